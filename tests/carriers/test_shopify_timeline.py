"""What Shopify's webhooks make of an order's timeline: snapshot ordering, partial updates,
the same fact reached through two topics, and an order whose parcel is tracked by EasyPost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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
from wismo.vocab import OrderStatus, ReturnStatus, TrackingStatus

HERE = Path(__file__).parent
FIXTURES = HERE / "shopify"
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
ORDER_ID = "5719327441044"


def _body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def _headers(name: str) -> dict[str, str]:
    path = FIXTURES / f"{name}.headers.json"
    raw = json.loads(path.read_text()) if path.exists() else {}
    return {key.lower(): value for key, value in raw.items()}


def _parse(body: dict[str, Any], topic: str) -> ParseResult:
    return get("shopify").parse(orjson.dumps(body), {"x-shopify-topic": topic}, RECEIVED_AT)


def _recorded(*names: str) -> list[Event]:
    events: list[Event] = []
    for name in names:
        raw = (FIXTURES / f"{name}.json").read_bytes()
        events += get("shopify").parse(raw, _headers(name), RECEIVED_AT).events
    return events


@given(
    snapshots=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000_000),  # seconds after the order was placed
            st.decimals(min_value=0, max_value=10_000, places=2),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda snapshot: snapshot[0],
    ),
    data=st.data(),
)
def test_an_older_orders_updated_never_overrides_a_newer_one(
    snapshots: list[tuple[int, Decimal]], data: st.DataObject
) -> None:
    base = _body("order_create")
    created = datetime.fromisoformat(base["created_at"])
    events: list[Event] = []
    for offset, total in snapshots:
        body = base | {
            "updated_at": (created + timedelta(seconds=offset)).isoformat(),
            "total_price": str(total),
        }
        events += _parse(body, "orders/updated").events
    delivered = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))

    newest_total = max(snapshots)[1]
    assert fold(delivered).total_amount == newest_total


def test_a_sparse_update_leaves_what_was_known() -> None:
    timeline = fold(_recorded("order_create", "order_updated_sparse"))

    assert [line.sku for line in timeline.lines] == ["MUG-BLUE-350", "KETTLE-01"]
    assert timeline.channel is not None
    assert timeline.customer_email_sha256 is not None
    assert timeline.delivery_groups[0].destination is not None
    assert timeline.total_amount == Decimal("159.70")


def test_a_fulfilment_inside_an_order_and_in_its_own_topic_is_one_shipment() -> None:
    order = _body("order_updated_with_fulfillment")
    via_order = _parse(order, "orders/updated").events
    via_topic = _parse(order["fulfillments"][0], "fulfillments/create").events

    shipped = [e for e in via_order if e.kind == "fulfilment.shipped"]
    assert [e.event_id for e in via_topic] == [e.event_id for e in shipped]
    timeline = fold([*via_order, *via_topic])
    assert len(timeline.shipments) == 1
    assert timeline.shipments[0].carrier == "ups"


def test_shopify_events_move_a_delivery_that_has_no_tracking_number() -> None:
    timeline = fold(
        _recorded(
            "order_create",
            "fulfillment_local_delivery_untracked",
            "fulfillment_event_out_for_delivery",
        )
    )

    (shipment,) = timeline.shipments
    assert shipment.status is TrackingStatus.OUT_FOR_DELIVERY
    assert shipment.estimated_delivery == datetime(2024, 5, 7).date()
    assert timeline.orphan_checkpoints == []


def test_cancelled_fulfilment_and_status_updates_land_on_their_parcels() -> None:
    timeline = fold(
        _recorded(
            "order_create",
            "order_updated_with_fulfillment",
            "fulfillment_update_delivered",
            "fulfillment_cancelled",
            "fulfillment_event_attempt_enriched",
        )
    )

    by_id = {shipment.shipment_id: shipment for shipment in timeline.shipments}
    assert by_id["5012345678901"].status is TrackingStatus.DELIVERED
    assert by_id["5012345678901"].failed_attempts == 1
    assert by_id["5012345777001"].status is TrackingStatus.EXCEPTION
    assert timeline.orphan_checkpoints == []


def test_returns_and_refunds_of_an_order() -> None:
    timeline = fold(
        _recorded("order_create", "return_approve", "refund_for_return", "return_decline")
    )

    returns = {r.return_id: r for r in timeline.returns}
    assert returns["3547267221"].status is ReturnStatus.AUTHORIZED
    assert returns["3547267300"].status is ReturnStatus.REJECTED
    (refund,) = timeline.refunds
    assert (refund.amount, refund.return_id) == (Decimal("19.90"), "3547267221")
    (payment,) = timeline.payments
    assert payment.captured_amount == Decimal("159.70")
    assert payment.refunded_amount == Decimal("19.90")  # the failed refund attempt moved nothing


def test_lines_cancelled_by_a_refund_and_the_whole_order_cancelled() -> None:
    timeline = fold(_recorded("order_cancelled", "refund_cancelled_lines"))

    assert timeline.cancelled
    assert timeline.cancel_reason == "customer"
    assert timeline.status is OrderStatus.CANCELLED
    assert {line.line_id: line.cancelled_quantity for line in timeline.lines} == {
        "13815690000001": 1,
        "13815679008916": 0,
    }
    assert timeline.refunds == []  # nothing was paid back: only lines cancelled


def test_an_order_from_shopify_tracked_by_easypost_ends_delivered() -> None:
    """The order and its fulfilment come from Shopify; the fulfilment names the tracking number
    and the carrier scans for it arrive from EasyPost, in any order."""
    order = _body("order_create")
    easypost_raw = (HERE / "easypost" / "delivered.json").read_bytes()
    number = json.loads(easypost_raw)["result"]["tracking_code"]
    fulfillment = _body("fulfillment_create_two_parcels") | {
        "tracking_company": "USPS",
        "tracking_number": number,
        "tracking_numbers": [number],
        "tracking_urls": [],
        "shipment_status": None,
        "line_items": order["line_items"],
    }
    scans = get("easypost").parse(easypost_raw, {}, RECEIVED_AT).events
    shopify = [
        *_parse(order, "orders/create").events,
        *_parse(fulfillment, "fulfillments/create").events,
    ]

    for events in ([*shopify, *scans], [*scans, *shopify], [*scans, *shopify, *scans]):
        timeline = fold(events)
        (shipment,) = timeline.shipments
        assert shipment.tracking_number == number
        assert shipment.carrier == "usps"
        assert shipment.status is TrackingStatus.DELIVERED
        scanned = [e for e in scans if e.kind == "tracking.checkpoint"]
        assert [c.source for c in shipment.checkpoints] == ["easypost"] * len(scanned)
        assert timeline.orphan_checkpoints == []
        assert timeline.status is OrderStatus.DELIVERED
        assert timeline.sources == ["easypost", "shopify"]
        assert timeline.order_id == ORDER_ID


def test_a_placeholder_tracking_number_is_no_tracking_number() -> None:
    fulfillment = _body("fulfillment_update_delivered") | {
        "tracking_company": "Other",
        "tracking_number": "N/A",
        "tracking_numbers": ["N/A", " - "],
        "shipment_status": None,
    }

    result = _parse(fulfillment, "fulfillments/update")

    assert result.problems == ()
    (shipped,) = result.events
    assert shipped.payload.tracking_number == "SHOPIFY-F5012345678901"
    assert [p.tracking_number for p in shipped.payload.packages or ()] == ["SHOPIFY-F5012345678901"]
