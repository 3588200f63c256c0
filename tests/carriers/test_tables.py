"""Every code table of every source maps onto valid statuses and reasons.

A source's ``codes`` module declares its tables as annotated module constants (``CodeTable``,
``ReasonTable``, tuples of phrase rules…). Each annotated constant that mentions the status or
reason vocabulary is validated *strictly* against its own annotation, so a plain string where an
enum member belongs, or a reason in the status slot, fails here rather than in production.
"""

from __future__ import annotations

import importlib
import importlib.util
import typing
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from carriers.registry import names
from wismo.vocab import Reason, TrackingStatus

#: Sources that receive wismo's own vocabulary and so have nothing to map.
CANONICAL_FEEDS = frozenset({"oms", "wms"})
_DELIVERED_REASONS = frozenset(r for r in Reason if r.value.startswith("delivered_"))


def _codes(source: str) -> ModuleType:
    return importlib.import_module(f"carriers.{source}.codes")


def _mentions_vocabulary(annotation: Any) -> bool:
    if annotation in (TrackingStatus, Reason):
        return True
    return any(_mentions_vocabulary(arg) for arg in typing.get_args(annotation))


def _tables(module: ModuleType) -> dict[str, tuple[Any, Any]]:
    hints = typing.get_type_hints(module)
    return {
        name: (annotation, getattr(module, name))
        for name, annotation in hints.items()
        if not name.startswith("_") and _mentions_vocabulary(annotation)
    }


@pytest.mark.parametrize("source", names())
def test_every_mapped_value_is_a_valid_status_and_reason(source: str) -> None:
    tables = _tables(_codes(source))
    for name, (annotation, value) in tables.items():
        try:
            TypeAdapter(annotation).validate_python(value, strict=True)
        except ValidationError as error:
            pytest.fail(f"{source}.codes.{name}: {error}")
    if source not in CANONICAL_FEEDS:
        assert any(value for _, value in tables.values()), f"{source} declares no code table"


def _pairs(value: Any) -> list[tuple[TrackingStatus, Reason | None]]:
    """Every (status, reason) pair a table can produce."""
    found: list[tuple[TrackingStatus, Reason | None]] = []
    items = value.values() if isinstance(value, Mapping) else value
    for item in items:
        if isinstance(item, tuple):
            statuses = [part for part in item if isinstance(part, TrackingStatus)]
            reasons = [part for part in item if isinstance(part, Reason)]
            if statuses:
                found.append((statuses[0], reasons[0] if reasons else None))
            else:
                found.extend(_pairs(item))
    return found


@pytest.mark.parametrize("source", names())
def test_delivery_outcomes_only_describe_deliveries(source: str) -> None:
    """``delivered_*`` reasons say who received a parcel: they belong to ``delivered`` only.
    (A delivery may still carry a blame reason, e.g. delivered damaged.)"""
    for name, (_, value) in _tables(_codes(source)).items():
        for status, reason in _pairs(value):
            if reason in _DELIVERED_REASONS:
                assert status is TrackingStatus.DELIVERED, f"{source}.{name}: {status}/{reason}"
