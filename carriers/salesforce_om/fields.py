"""Reading Salesforce records: where a field sits, which order a record belongs to, child
relationships, and the problems for what is missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from carriers.base import Collector, Problem, ProblemCode
from carriers.decode import validate_item
from carriers.salesforce_om.build import Context, instant, modified_at
from carriers.salesforce_om.schema import Children, SfRecord

Record = TypeVar("Record", bound=SfRecord)

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


@dataclass(frozen=True, slots=True)
class Read(Generic[Record]):
    """A record that validated and has what every mapper needs: its id, its order and when
    this state of it was written."""

    record: Record
    record_id: str
    order_id: str
    at: datetime


def read_record(
    collected: Collector,
    item: Any,
    model: type[Record],
    ctx: Context,
    path: str,
    order_fields: tuple[str, ...] = ("OrderSummaryId",),
) -> Read[Record] | None:
    """``item`` validated as ``model``; ``None`` (and the problem noted) when it is not one or
    lacks its Id, its order or a timestamp."""
    record, problem = validate_item(item, model, path or None)
    if record is None:
        collected.note(problem)
        return None
    order_id = order_of(record, ctx, *order_fields)
    at = modified_at(record) or instant(record.CreatedDate)
    if not record.Id or order_id is None or at is None:
        missing = {"Id": record.Id, order_fields[-1]: order_id, "LastModifiedDate": at}
        note_missing(collected, path, **missing)
        return None
    return Read(record, record.Id, order_id, at)
