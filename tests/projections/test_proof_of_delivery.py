"""Proof of delivery and the masked address in the fold: kept from the delivered scan whatever
the order of arrival, and dropped by erasure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.anonymise import anonymise
from projections.timeline import fold
from tests.strategies import ORDER_ID, order_histories
from wismo.events import Event, event_from_dict, event_to_dict
from wismo.vocab import TrackingStatus

NUMBER = "1Z999AA10123456784"
PHOTO = "https://pod.example.com/photo/1.jpg"
MASKED = "J. D•••, 12•• Main St, 10115 Berlin, DE"


def _event(kind: str, minute: int, payload: dict[str, Any], **keys: Any) -> Event:
    return event_from_dict(
        {
            "event_id": f"e:{kind}:{minute}",
            "source": "test",
            "kind": kind,
            "occurred_at": f"2026-03-05T10:{minute:02d}:00Z",
            "payload": payload,
            **keys,
        }
    )


def _scan(minute: int, status: str, **proof: str) -> Event:
    payload = {"status": status, "raw_code": f"C{minute}", **proof}
    return _event("tracking.checkpoint", minute, payload, tracking_number=NUMBER)


HISTORY = [
    _event(
        "order.placed",
        0,
        {
            "lines": [{"line_id": "L1"}],
            "delivery_groups": [{"group_id": "G1", "address_masked": MASKED}],
        },
        order_id=ORDER_ID,
    ),
    _event(
        "fulfilment.shipped",
        1,
        {"shipment_id": "S1", "carrier": "ups", "tracking_number": NUMBER},
        order_id=ORDER_ID,
    ),
    _scan(2, "in_transit"),
    _scan(3, "attempt_fail", signed_by="NOBODY"),
    _scan(4, "delivered", signed_by="J. DOE", proof_of_delivery_url=PHOTO),
]


def test_the_shipment_keeps_the_delivered_scans_proof_and_the_group_its_masked_address() -> None:
    timeline = fold(HISTORY, order_id=ORDER_ID)
    shipment = timeline.shipments[0]
    assert shipment.signed_by == "J. DOE"
    assert shipment.proof_of_delivery_url == PHOTO
    assert timeline.delivery_groups[0].address_masked == MASKED
    for permutation in (HISTORY[::-1], HISTORY[2:] + HISTORY[:2]):
        again = fold(permutation, order_id=ORDER_ID)
        assert again.shipments[0].signed_by == "J. DOE"
        assert again.shipments[0].proof_of_delivery_url == PHOTO


def test_a_later_delivered_scan_without_proof_keeps_the_one_that_had_it() -> None:
    shipment = fold([*HISTORY, _scan(5, "delivered")], order_id=ORDER_ID).shipments[0]
    assert shipment.signed_by == "J. DOE"
    assert shipment.proof_of_delivery_url == PHOTO


def test_a_shipment_not_delivered_has_no_proof() -> None:
    shipment = fold(HISTORY[:4], order_id=ORDER_ID).shipments[0]
    assert shipment.signed_by is None
    assert shipment.proof_of_delivery_url is None


def test_erasure_drops_the_signed_by_name_the_proof_and_the_masked_address() -> None:
    anonymised = [event_from_dict(anonymise(event_to_dict(event), [], {})) for event in HISTORY]
    timeline = fold(anonymised, order_id=ORDER_ID)
    assert timeline.shipments[0].signed_by is None
    assert timeline.shipments[0].proof_of_delivery_url is None
    assert timeline.delivery_groups[0].address_masked is None
    assert timeline.shipments[0].status is TrackingStatus.DELIVERED


@given(history=order_histories())
def test_the_proof_is_that_of_a_delivered_scan_and_none_only_without_one(
    history: list[Event],
) -> None:
    for shipment in fold(history, order_id=ORDER_ID).shipments:
        delivered = [c for c in shipment.checkpoints if c.status is TrackingStatus.DELIVERED]
        signers = {c.signed_by for c in delivered} - {None}
        links = {c.proof_of_delivery_url for c in delivered} - {None}
        assert (shipment.signed_by in signers) if signers else shipment.signed_by is None
        assert (
            (shipment.proof_of_delivery_url in links)
            if links
            else shipment.proof_of_delivery_url is None
        )


@given(history=order_histories(), seed=st.randoms(use_true_random=False))
def test_the_proof_does_not_depend_on_arrival_order(history: list[Event], seed: Any) -> None:
    shuffled = list(history)
    seed.shuffle(shuffled)
    kept = [
        (s.signed_by, s.proof_of_delivery_url) for s in fold(history, order_id=ORDER_ID).shipments
    ]
    again = {
        s.shipment_id: (s.signed_by, s.proof_of_delivery_url)
        for s in fold(shuffled, order_id=ORDER_ID).shipments
    }
    assert sorted(kept, key=str) == sorted(again.values(), key=str)


def test_a_scan_pushed_without_proof_then_polled_with_it_keeps_the_proof() -> None:
    pushed = _scan(4, "delivered")
    pushed = pushed.model_copy(update={"received_at": pushed.occurred_at})
    polled = _scan(4, "delivered", signed_by="J. DOE").model_copy(
        update={"received_at": pushed.occurred_at + timedelta(hours=1)}
    )
    assert pushed.event_id == polled.event_id
    for history in ([*HISTORY[:4], pushed, polled], [*HISTORY[:4], polled, pushed]):
        assert fold(history, order_id=ORDER_ID).shipments[0].signed_by == "J. DOE"


def test_the_customer_sees_the_proof_and_the_address_anyone_with_the_number_does_not() -> None:
    from api.personal import for_roles
    from projections.customer_order import customer_order, encode, public_parcel
    from projections.serialize import timeline_to_dict

    timeline = fold(HISTORY, order_id=ORDER_ID)
    own = customer_order(timeline)
    assert own["shipments"][0]["proof"] == {"signed_by": "J. DOE", "url": PHOTO}
    assert own["address_masked"] == MASKED
    public = encode(public_parcel(timeline, NUMBER))
    assert b"J. DOE" not in public
    assert PHOTO.encode() not in public
    viewer = encode(for_roles(timeline_to_dict(timeline), frozenset({"viewer"})))
    for personal in (b"J. DOE", PHOTO.encode(), MASKED.encode()):
        assert personal not in viewer
