"""Scenario tests of the timeline fold: one behaviour per test, literal events in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from projections.timeline import FoldError, fold
from wismo.events import Event, event_from_dict
from wismo.vocab import (
    ExceptionState,
    FulfilmentStatus,
    OrderStatus,
    PaymentStatus,
    Reason,
    ReturnStatus,
    TrackingStatus,
)

ORDER = "O-1"
_seq = iter(range(1, 10**6))


def ev(kind: str, day: int, hour: int = 12, order: str | None = ORDER, **payload: Any) -> Event:
    keys: dict[str, Any] = {}
    if "tn" in payload:
        keys["tracking_number"] = payload.pop("tn")
    if order is not None:
        keys["order_id"] = order
    event_id = payload.pop("event_id", f"t:{next(_seq)}")
    received = payload.pop("received_at", None)
    if received:
        keys["received_at"] = received
    return event_from_dict(
        {
            "event_id": event_id,
            "source": payload.pop("source", "oms"),
            "kind": kind,
            "occurred_at": f"2026-03-{day:02d}T{hour:02d}:00:00Z",
            "payload": payload,
            **keys,
        }
    )


def placed(**extra: Any) -> Event:
    return ev(
        "order.placed",
        1,
        order_number="1001",
        customer_email=" Pat@Example.com ",
        total_amount="100.00",
        currency="EUR",
        lines=[{"line_id": "A", "quantity": 1}, {"line_id": "B", "quantity": 2}],
        delivery_groups=[{"group_id": "G", "promised_delivery_date": "2026-03-06"}],
        **extra,
    )


def shipped(tn: str, lines: list[dict[str, Any]], day: int = 2, **extra: Any) -> Event:
    return ev("fulfilment.shipped", day, carrier="ups", tracking_number=tn, lines=lines, **extra)


def scan(
    tn: str, status: str, day: int, hour: int = 12, linked: bool = False, **extra: Any
) -> Event:
    return ev(
        "tracking.checkpoint",
        day,
        hour,
        order=ORDER if linked else None,
        tn=tn,
        source="ups",
        status=status,
        **extra,
    )


A1 = [{"line_id": "A", "quantity": 1}]
B2 = [{"line_id": "B", "quantity": 2}]


def test_split_shipments_deliver_partially_then_fully() -> None:
    base = [placed(), shipped("1ZAAA0001", A1), shipped("1ZBBB0002", B2)]
    partly = fold([*base, scan("1ZAAA0001", "delivered", 4)])
    assert partly.status is OrderStatus.PARTIALLY_DELIVERED
    full = fold([*base, scan("1ZAAA0001", "delivered", 4), scan("1ZBBB0002", "delivered", 5)])
    assert full.status is OrderStatus.DELIVERED
    assert [line.shipped_quantity for line in full.lines] == [1, 2]


def test_only_part_of_the_order_shipped_is_partially_shipped() -> None:
    timeline = fold([placed(), shipped("1ZAAA0001", A1), scan("1ZAAA0001", "in_transit", 3)])
    assert timeline.status is OrderStatus.PARTIALLY_SHIPPED


def test_multi_package_shipment_is_delivered_only_when_every_package_is() -> None:
    packages = [{"tracking_number": "1ZPKG0001"}, {"tracking_number": "1ZPKG0002"}]
    ship = ev(
        "fulfilment.shipped", 2, shipment_id="S1", carrier="fedex", packages=packages, lines=A1 + B2
    )
    one = fold([placed(), ship, scan("1ZPKG0001", "delivered", 4)])
    # the second package has not been scanned yet: the shipment is as far as its slowest parcel
    assert one.shipments[0].status is TrackingStatus.INFO_RECEIVED
    assert [p.status for p in one.shipments[0].packages] == [
        TrackingStatus.DELIVERED,
        TrackingStatus.INFO_RECEIVED,
    ]
    assert one.shipments[0].delivered_at is None
    both = fold(
        [placed(), ship, scan("1ZPKG0001", "delivered", 4), scan("1ZPKG0002", "delivered", 5, 9)]
    )
    assert both.shipments[0].status is TrackingStatus.DELIVERED
    assert both.shipments[0].delivered_at is not None
    assert both.shipments[0].delivered_at.day == 5
    assert both.status is OrderStatus.DELIVERED


def test_a_package_in_trouble_speaks_for_its_shipment() -> None:
    packages = [{"tracking_number": "1ZPKG0001"}, {"tracking_number": "1ZPKG0002"}]
    ship = ev("fulfilment.shipped", 2, shipment_id="S1", packages=packages, lines=A1 + B2)
    timeline = fold(
        [
            placed(),
            ship,
            scan("1ZPKG0001", "delivered", 4),
            scan("1ZPKG0002", "exception", 4, reason="customs_hold"),
        ]
    )
    assert timeline.shipments[0].status is TrackingStatus.EXCEPTION
    assert timeline.shipments[0].reason is Reason.CUSTOMS_HOLD
    assert timeline.status is OrderStatus.EXCEPTION


def test_scan_before_its_shipment_is_parked_then_applied() -> None:
    early = scan("1ZAAA0001", "in_transit", 2, 8, raw_code="IT")
    parked = fold([placed(), early])
    assert [c.event_id for c in parked.orphan_checkpoints] == [early.event_id]
    linked = fold([placed(), early, shipped("1ZAAA0001", A1 + B2, day=2)])
    assert linked.orphan_checkpoints == []
    assert linked.shipments[0].checkpoints[0].raw_code == "IT"
    assert linked.shipments[0].status is TrackingStatus.IN_TRANSIT


def test_late_in_transit_does_not_undo_delivery_but_is_kept() -> None:
    events = [
        placed(),
        shipped("1ZAAA0001", A1 + B2),
        scan("1ZAAA0001", "delivered", 4),
        scan("1ZAAA0001", "in_transit", 4, 18),
    ]
    timeline = fold(events)
    assert timeline.shipments[0].status is TrackingStatus.DELIVERED
    assert [c.status for c in timeline.shipments[0].checkpoints] == [
        TrackingStatus.DELIVERED,
        TrackingStatus.IN_TRANSIT,
    ]
    assert timeline.status is OrderStatus.DELIVERED


def test_late_label_created_does_not_undo_movement() -> None:
    events = [
        placed(),
        shipped("1ZAAA0001", A1 + B2),
        scan("1ZAAA0001", "in_transit", 3),
        scan("1ZAAA0001", "info_received", 3, 20),
    ]
    assert fold(events).shipments[0].status is TrackingStatus.IN_TRANSIT


def test_unknown_code_is_kept_but_changes_no_status() -> None:
    events = [
        placed(),
        shipped("1ZAAA0001", A1 + B2),
        scan("1ZAAA0001", "in_transit", 3),
        scan("1ZAAA0001", "unknown", 3, 20, raw_code="ZZ9", message="Mystery"),
    ]
    shipment = fold(events).shipments[0]
    assert shipment.status is TrackingStatus.IN_TRANSIT
    assert shipment.checkpoints[-1].raw_code == "ZZ9"


def test_exception_then_recovery_then_delivery() -> None:
    events = [
        placed(),
        shipped("1ZAAA0001", A1 + B2),
        scan("1ZAAA0001", "attempt_fail", 4, reason="consignee_not_available"),
    ]
    assert fold(events).status is OrderStatus.EXCEPTION
    events.append(scan("1ZAAA0001", "out_for_delivery", 5, 8))
    recovered = fold(events)
    assert recovered.status is OrderStatus.OUT_FOR_DELIVERY
    events.append(scan("1ZAAA0001", "delivered", 5, 15))
    done = fold(events).shipments[0]
    assert done.failed_attempts == 1
    assert done.first_attempt_at is not None
    assert done.first_attempt_at.day == 4
    assert done.out_for_delivery_at is not None
    assert done.delivered_at is not None


def test_partial_shipment_update_keeps_known_fields() -> None:
    full = ev(
        "fulfilment.shipped",
        2,
        shipment_id="S1",
        carrier="dhl",
        service="express",
        tracking_number="1234567890",
        lines=A1 + B2,
        destination={"city": "Lyon", "country": "fr"},
    )
    partial = ev("fulfilment.shipped", 3, shipment_id="S1")
    shipment = fold([placed(), full, partial]).shipments[0]
    assert (shipment.carrier, shipment.service) == ("dhl", "express")
    assert shipment.destination is not None
    assert shipment.destination.country == "FR"
    assert shipment.tracking_number == "1234567890"


def test_partial_order_change_keeps_lines_and_updates_what_it_says() -> None:
    change = ev("order.changed", 2, lines=[{"line_id": "B", "name": "Blue mug"}])
    timeline = fold([placed(), change])
    line_b = next(line for line in timeline.lines if line.line_id == "B")
    assert (line_b.quantity, line_b.name) == (2, "Blue mug")
    assert timeline.order_number == "1001"
    assert timeline.promised_delivery_date == date(2026, 3, 6)


def test_cancellations_full_and_per_line() -> None:
    per_line = fold([placed(), ev("order.cancelled", 2, lines=[{"line_id": "B", "quantity": 2}])])
    assert per_line.status is OrderStatus.PLACED
    assert [line.cancelled_quantity for line in per_line.lines] == [0, 2]
    everything = fold([placed(), ev("order.cancelled", 2, reason="customer request")])
    assert everything.status is OrderStatus.CANCELLED
    assert everything.cancel_reason == "customer request"


def test_cancelled_rest_of_order_counts_as_fully_shipped() -> None:
    events = [
        placed(),
        ev("order.cancelled", 2, lines=[{"line_id": "B", "quantity": 2}]),
        shipped("1ZAAA0001", A1),
        scan("1ZAAA0001", "delivered", 4),
    ]
    assert fold(events).status is OrderStatus.DELIVERED


def test_fulfilment_orders_progress_without_regression() -> None:
    events = [
        placed(),
        ev("fulfilment.created", 1, 13, fulfilment_order_id="F1", delivery_group_id="G"),
        ev("fulfilment.packed", 2, fulfilment_order_id="F1"),
        ev("fulfilment.picked", 2, 14, fulfilment_order_id="F1"),
    ]
    timeline = fold(events)
    assert timeline.status is OrderStatus.PROCESSING
    assert timeline.fulfilment_orders[0].status is FulfilmentStatus.PACKED
    assert len(timeline.fulfilment_orders[0].history) == 3


def test_shipment_inherits_the_promise_of_its_delivery_group() -> None:
    events = [
        placed(),
        ev("fulfilment.created", 1, 13, fulfilment_order_id="F1", delivery_group_id="G"),
        shipped("1ZAAA0001", A1 + B2, fulfilment_order_id="F1"),
    ]
    shipment = fold(events).shipments[0]
    assert shipment.delivery_group_id == "G"
    assert shipment.promised_delivery_date == date(2026, 3, 6)


def test_edd_history_keeps_first_and_last_and_collapses_repeats() -> None:
    events = [
        placed(),
        shipped("1ZAAA0001", A1 + B2, carrier_edd="2026-03-05"),
        ev(
            "edd.revised",
            3,
            order=None,
            tn="1ZAAA0001",
            source="ups",
            estimated_delivery="2026-03-07",
            reason="weather",
        ),
        scan("1ZAAA0001", "in_transit", 4, estimated_delivery="2026-03-07"),
    ]
    shipment = fold(events).shipments[0]
    assert shipment.carrier_edd_first == date(2026, 3, 5)
    assert shipment.estimated_delivery == date(2026, 3, 7)
    assert len(shipment.edd_history) == 2


def test_payments_accumulate_captures_and_refunds() -> None:
    events = [
        placed(),
        ev("payment.authorized", 1, payment_id="P", amount="100.00"),
        ev("payment.captured", 2, payment_id="P", amount="40.00"),
        ev("payment.captured", 3, payment_id="P", amount="60.00"),
        ev("payment.refunded", 4, payment_id="P", amount="10.00"),
    ]
    payment = fold(events).payments[0]
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.captured_amount == Decimal("100.00")
    assert payment.refunded_amount == Decimal("10.00")
    assert fold(events).status is OrderStatus.PLACED


def test_return_received_then_refunded() -> None:
    base = [placed(), shipped("1ZAAA0001", A1 + B2), scan("1ZAAA0001", "delivered", 4)]
    rma = [
        ev("return.authorized", 6, return_id="R", tracking_number="1ZRET0001", lines=B2),
        scan("1ZRET0001", "in_transit", 7, linked=True),
        ev("return.received", 8, return_id="R"),
    ]
    partial_return = fold([*base, *rma])
    assert partial_return.status is OrderStatus.DELIVERED
    assert partial_return.returns[0].status is ReturnStatus.RECEIVED
    assert partial_return.returns[0].carrier_status is TrackingStatus.IN_TRANSIT
    assert partial_return.lines[1].returned_quantity == 2
    refund = ev("refund.issued", 9, refund_id="RF", amount="100.00", return_id="R")
    assert fold([*base, *rma, refund]).status is OrderStatus.REFUNDED


def test_exception_lifecycle_and_reopening() -> None:
    opened = {
        "exception_id": "exc:1",
        "type": "stalled",
        "severity": "high",
        "owner": "carrier",
        "message": "No scan for 48h",
    }
    events = [
        placed(),
        ev("exception.opened", 3, **opened),
        ev("exception.acknowledged", 3, 14, exception_id="exc:1", by="agent-1"),
    ]
    acknowledged = fold(events).exceptions[0]
    assert acknowledged.state is ExceptionState.ACKNOWLEDGED
    events.append(ev("exception.resolved", 4, exception_id="exc:1", automatic=True))
    resolved = fold(events).exceptions[0]
    assert resolved.state is ExceptionState.RESOLVED
    assert resolved.automatic_resolution
    events.append(ev("exception.opened", 6, **opened))
    reopened = fold(events).exceptions[0]
    assert reopened.state is ExceptionState.OPEN
    assert reopened.opened_at is not None
    assert reopened.opened_at.day == 6


def test_copies_of_one_event_id_resolve_to_the_first_received() -> None:
    first = scan(
        "1ZAAA0001",
        "in_transit",
        3,
        event_id="ups:x",
        message="first",
        received_at="2026-03-03T12:01:00Z",
    )
    second = scan(
        "1ZAAA0001",
        "in_transit",
        3,
        event_id="ups:x",
        message="second",
        received_at="2026-03-03T12:05:00Z",
    )
    base = [placed(), shipped("1ZAAA0001", A1 + B2)]
    for order in ([first, second], [second, first]):
        checkpoint = fold([*base, *order]).shipments[0].checkpoints[0]
        assert checkpoint.message == "first"


def test_customer_email_is_kept_only_as_a_normalised_hash() -> None:
    timeline = fold([placed()])
    assert timeline.customer_email_sha256 is not None
    assert len(timeline.customer_email_sha256) == 64
    assert "Pat" not in repr(timeline)


def test_events_of_two_orders_cannot_be_folded_together() -> None:
    with pytest.raises(FoldError):
        fold([placed(), ev("order.changed", 2, order="O-2")])
