"""Reading Salesforce records: where a field sits, which order a record belongs to, child
relationships, and the problems for what is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from carriers.base import Problem, ProblemCode
from carriers.common import Collector, validate_item
from carriers.salesforce_om.build import Context
from carriers.salesforce_om.schema import Children, SfRecord

Mapper = Callable[[Collector, Any, Context, str], None]
"""Maps one record (raw, at ``path``) onto events and problems in the collector."""


def at_path(path: str, field: str) -> str:
    """``field`` under ``path`` (the top level has no prefix)."""
    return f"{path}.{field}" if path else field


def order_of(record: Any, ctx: Context, *fields: str) -> str | None:
    for name in fields:
        value = getattr(record, name, None)
        if value:
            return str(value)
    return ctx.order_id


def note_missing(collected: Collector, path: str, **fields: object) -> None:
    """An ``INVALID`` problem naming the first of ``fields`` that has no value."""
    field = next((name for name, value in fields.items() if not value), next(iter(fields)))
    collected.note(Problem(ProblemCode.INVALID, f"missing {field}", at_path(path, field)))


def child_records(
    collected: Collector, relation: Children | None, model: type[SfRecord], path: str, name: str
) -> list[Any]:
    records = []
    for index, child in enumerate((relation.records if relation else None) or ()):
        record, problem = validate_item(child, model, at_path(path, f"{name}.records[{index}]"))
        collected.note(problem)
        if record is not None:
            records.append(record)
    return records
