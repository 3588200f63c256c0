"""A fulfilment order or shipment naming a line the order does not list is flagged on the
timeline (``data_quality``), whatever order the events arrive in, and never before the order's
own lines are known."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.order_status import UNKNOWN_LINE
from projections.serialize import timeline_to_dict, timeline_to_json
from projections.timeline import OrderFold, fold
from tests.projections.test_timeline import ev, placed, shipped
from tests.strategies import ORDER_ID, order_histories
from wismo.events import Event, event_from_dict

A1 = [{"line_id": "A", "quantity": 1}]
STRAY = [{"line_id": "Z", "quantity": 1}]


def _notes(events: list[Event]) -> list[tuple[str, str, str, list[str]]]:
    return [(n.code, n.subject, n.line_id, n.event_ids) for n in fold(events).data_quality]


def test_a_shipment_naming_a_line_not_on_the_order_is_flagged() -> None:
    stray = shipped("1ZAAA0001", A1 + STRAY, shipment_id="S1", event_id="ship-1")
    timeline = fold([placed(), stray])
    (note,) = timeline.data_quality
    assert (note.code, note.subject, note.line_id, note.event_ids) == (
        UNKNOWN_LINE,
        "S1",
        "Z",
        ["ship-1"],
    )
    assert "shipment S1 names line Z" in note.message
    assert [(line.line_id, line.shipped_quantity) for line in timeline.lines] == [
        ("A", 1),
        ("B", 0),
    ]
    assert timeline_to_dict(timeline)["data_quality"][0]["line_id"] == "Z"


def test_a_fulfilment_order_naming_a_line_not_on_the_order_is_flagged() -> None:
    created = ev("fulfilment.created", 1, 13, fulfilment_order_id="F1", lines=STRAY, event_id="f1")
    packed = ev("fulfilment.packed", 2, fulfilment_order_id="F1", lines=STRAY, event_id="f2")
    assert _notes([placed(), created, packed]) == [(UNKNOWN_LINE, "F1", "Z", ["f1", "f2"])]


def test_lines_on_the_order_and_orders_without_lines_are_not_flagged() -> None:
    assert _notes([placed(), shipped("1ZAAA0001", A1)]) == []
    # the order has not arrived yet: nothing to judge against
    assert _notes([shipped("1ZAAA0001", STRAY)]) == []
    # a partial cancellation names a line but does not list the order's lines
    cancel = ev("order.cancelled", 1, 14, lines=[{"line_id": "A", "quantity": 1}])
    assert _notes([cancel, shipped("1ZAAA0001", STRAY)]) == []


def test_the_order_arriving_after_its_fulfilment_raises_the_flag() -> None:
    early = shipped("1ZAAA0001", STRAY, day=1, shipment_id="S1", event_id="early")
    late_order = ev("order.placed", 3, order_number="1001", lines=[{"line_id": "A", "quantity": 1}])
    assert _notes([early]) == []
    assert _notes([early, late_order]) == [(UNKNOWN_LINE, "S1", "Z", ["early"])]


def test_an_order_change_listing_the_line_clears_the_flag() -> None:
    stray = shipped("1ZAAA0001", STRAY)
    changed = ev("order.changed", 3, lines=[{"line_id": "Z", "quantity": 1}])
    assert _notes([placed(), stray]) != []
    assert _notes([placed(), stray, changed]) == []


def test_a_continued_fold_flags_what_a_fresh_fold_flags() -> None:
    base = [placed(), ev("fulfilment.created", 1, 13, fulfilment_order_id="F1", lines=A1)]
    later = ev("fulfilment.packed", 2, fulfilment_order_id="F1", lines=STRAY)
    continued = OrderFold.of(base)
    assert continued.extend([later])
    assert timeline_to_json(continued.timeline) == timeline_to_json(fold([*base, later]))
    assert [n.line_id for n in continued.timeline.data_quality] == ["Z"]


def _stray_shipment(history: list[Event]) -> Event:
    latest = max(event.occurred_at for event in history)
    raw: dict[str, Any] = {
        "event_id": "stray-shipment",
        "source": "wms",
        "kind": "fulfilment.shipped",
        "order_id": ORDER_ID,
        "occurred_at": (latest - timedelta(days=3)).isoformat(),
        "payload": {"shipment_id": "S-stray", "lines": [{"line_id": "L-none", "quantity": 1}]},
    }
    return event_from_dict(raw)


@given(history=order_histories(), data=st.data())
def test_the_flag_depends_only_on_the_set_of_events(
    history: list[Event], data: st.DataObject
) -> None:
    events = [*history, _stray_shipment(history)]
    expected = timeline_to_json(fold(events, order_id=ORDER_ID))
    arrival = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))
    timeline = fold(arrival, order_id=ORDER_ID)
    assert timeline_to_json(timeline) == expected
    flagged = [(n.subject, n.line_id) for n in timeline.data_quality]
    assert ("S-stray", "L-none") in flagged
    assert all(line_id == "L-none" for _, line_id in flagged)  # generated lines are all ordered
    assert fold(history, order_id=ORDER_ID).data_quality == []
