"""What Salesforce OM records and platform events make of an order's timeline: cumulative
snapshots counted once, records and events that state the same fact collapsing, child records
belonging to their summary, and a whole order from placement to credit memo."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from carriers.base import ParseResult
from carriers.registry import get
from projections.timeline import fold
from wismo.events import Event
from wismo.vocab import FulfilmentStatus, OrderStatus, ReturnStatus, TrackingStatus

FIXTURES = Path(__file__).parent / "salesforce_om"
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
ORDER_ID = "1Os5g000000Ab12CAC"


def _body(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _parse(body: Any, headers: dict[str, str] | None = None) -> ParseResult:
    return get("salesforce_om").parse(orjson.dumps(body), headers or {}, RECEIVED_AT)


def _recorded(*names: str) -> list[Event]:
    return [event for name in names for event in _parse(_body(name)).events]


@given(
    cancelled=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=6),
    data=st.data(),
)
def test_cumulative_cancelled_quantities_are_counted_once(
    cancelled: list[int], data: st.DataObject
) -> None:
    """Each snapshot states the running total; in any order, with any re-delivery, the line
    ends with the highest total cancelled."""
    totals = sorted(cancelled)
    base = _body("order_item_summary_sparse_cancel")
    events: list[Event] = []
    for step, total in enumerate(totals):
        at = datetime(2024, 5, 8, 10, tzinfo=UTC) + timedelta(minutes=step)
        snapshot = base | {"QuantityCanceled": float(total), "LastModifiedDate": at.isoformat()}
        events += _parse(snapshot).events
    placed = _recorded("order_summary_b2b_partially_cancelled")
    again = data.draw(st.lists(st.sampled_from(events))) if events else []
    delivered = data.draw(st.permutations(placed + events + again))

    (line,) = fold(delivered).lines
    # the summary itself says 2 were cancelled; the item snapshots say up to max(totals)
    assert line.cancelled_quantity == max([2, *totals])


def test_a_status_event_and_the_record_state_the_same_fulfilment_step() -> None:
    record = _body("fulfillment_order_pick_complete") | {"Status": "Pack Complete"}
    from_record = [e for e in _parse(record).events if e.kind == "fulfilment.packed"]
    from_event = _parse(_body("event_fo_status_changed_cometd")).events

    assert [e.event_id for e in from_event] == [e.event_id for e in from_record]


def test_a_cancelled_status_event_and_a_cancelled_summary_are_one_cancellation() -> None:
    summary = _body("order_summary_b2b_partially_cancelled") | {"Status": "Cancelled"}
    from_record = [
        e for e in _parse(summary).events if e.kind == "order.cancelled" and not e.payload.lines
    ]
    from_event = _parse(_body("event_status_cancelled_cometd")).events

    assert len(from_record) == 1
    assert [e.event_id for e in from_event] == [from_record[0].event_id]
    timeline = fold([*from_record, *from_event, *_parse(summary).events])
    assert timeline.cancelled
    assert timeline.status is OrderStatus.CANCELLED


def test_records_nested_in_a_summary_belong_to_its_order() -> None:
    fulfilment = _body("fulfillment_order_pick_complete")
    shipment = _body("shipment_created")
    for record in (fulfilment, shipment):
        del record["OrderSummaryId"]
    summary = _body("order_summary_query")["records"][0] | {
        "FulfillmentOrders": {"totalSize": 1, "done": True, "records": [fulfilment]},
        "Shipments": {"totalSize": 1, "done": True, "records": [shipment]},
    }

    result = _parse(summary)

    assert result.problems == ()
    assert {e.order_id for e in result.events} == {ORDER_ID}
    assert {"fulfilment.created", "fulfilment.picked", "fulfilment.shipped"} <= {
        e.kind for e in result.events
    }


def test_the_delivery_id_is_the_event_uuid_else_the_signed_callouts_id() -> None:
    event = _parse(_body("event_fo_status_changed_cometd"), {"webhook-id": "msg_1"})
    record = _parse(_body("shipment_created"), {"webhook-id": "msg_2"})

    assert event.delivery_id == "5e2a9f60-7c1b-4d3e-a8f9-0b1c2d3e4f50"
    assert record.delivery_id == "msg_2"


def test_an_order_from_placement_to_credit_memo() -> None:
    events = _recorded(
        "event_order_summary_created",
        "order_summary_query",
        "fulfillment_order_pick_complete",
        "event_fo_status_changed_cometd",
        "shipment_created",
        "shipment_delivered",
        "order_payment_summary_captured",
        "billing_invoice_and_credit_memo",
        "return_order_approved",
        "return_order_closed",
    )

    for delivered in (events, events[::-1], events + events[:4]):
        timeline = fold(delivered)
        assert timeline.order_number == "00001042"
        assert timeline.placed_at == datetime(2024, 5, 2, 9, 13, 58, tzinfo=UTC)
        assert timeline.promised_delivery_date == date(2024, 5, 6)
        assert [line.sku for line in timeline.lines] == ["TR2-BLK-42", "SOCK-MER-3"]
        (fulfilment,) = timeline.fulfilment_orders
        assert fulfilment.warehouse == "DC-MK1"
        assert fulfilment.status is FulfilmentStatus.SHIPPED
        (shipment,) = timeline.shipments
        assert (shipment.carrier, shipment.tracking_number) == ("ups", "1Z999AA10123456784")
        assert shipment.status is TrackingStatus.DELIVERED
        assert shipment.carrier_edd_first == date(2024, 5, 6)
        (returned,) = timeline.returns
        assert returned.status is ReturnStatus.RECEIVED
        (refund,) = timeline.refunds
        assert refund.amount == Decimal("129.0")
        captured = {p.payment_id: p.captured_amount for p in timeline.payments}
        assert captured["3tt5g000000Iv01AAC"] == Decimal("183.95")
