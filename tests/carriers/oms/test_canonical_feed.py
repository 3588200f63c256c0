"""The canonical feeds (oms, wms): what wismo fills in and how ids stay stable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from carriers.base import ProblemCode
from carriers.registry import get

RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
PLACED = {
    "kind": "order.placed",
    "order_id": "ORD-1",
    "occurred_at": "2024-05-01T12:00:00+02:00",
    "payload": {"order_number": "#1"},
}


def _parse(source: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return get(source).parse(orjson.dumps(body), headers or {}, RECEIVED_AT)


@pytest.mark.parametrize("source", ["oms", "wms"])
def test_missing_source_event_id_and_received_at_are_filled_in(source: str) -> None:
    (event,) = _parse(source, {**PLACED, "received_at": "2000-01-01T00:00:00Z"}).events
    assert event.source == source
    assert event.event_id.startswith(f"{source}:")
    assert event.received_at == RECEIVED_AT


def test_a_resent_event_keeps_its_derived_id_whatever_the_notation() -> None:
    (first,) = _parse("oms", PLACED).events
    restated = {**PLACED, "occurred_at": "2024-05-01T10:00:00Z"}
    restated["payload"] = {"order_number": " #1 "}
    (again,) = _parse("oms", restated).events
    (other,) = _parse("oms", {**PLACED, "payload": {"order_number": "#2"}}).events
    assert again.event_id == first.event_id
    assert other.event_id != first.event_id


def test_the_senders_own_id_and_source_are_kept() -> None:
    body = {**PLACED, "event_id": "erp-77", "source": "erp"}
    (event,) = _parse("oms", body).events
    assert (event.event_id, event.source) == ("erp-77", "erp")


def test_the_delivery_id_is_the_webhook_id() -> None:
    result = _parse("wms", [PLACED], {"webhook-id": "msg_abc"})
    assert result.delivery_id == "msg_abc"


def test_a_single_invalid_event_names_the_field_without_an_index() -> None:
    result = _parse("oms", {**PLACED, "order_id": None})
    assert result.events == ()
    (problem,) = result.problems
    assert (problem.code, problem.path) == (ProblemCode.INVALID, None)
    assert "needs an order_id" in problem.message
    result = _parse("oms", {**PLACED, "occurred_at": "soon"})
    assert [p.path for p in result.problems] == ["occurred_at"]


def test_one_event_an_array_and_an_envelope_give_the_same_events() -> None:
    single = _parse("oms", PLACED).events
    assert _parse("oms", [PLACED]).events == single
    assert _parse("oms", {"events": [PLACED]}).events == single
