"""Property tests of the fold's invariants (DESIGN.md invariants 1, 2, 3 and 6)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from projections.serialize import timeline_to_dict, timeline_to_json
from projections.timeline import CONTINUED_KINDS, OrderFold, fold
from tests.projections.synthetic import order_history
from tests.strategies import ORDER_ID, order_histories
from wismo.events import (
    Event,
    EventKind,
    ShipmentLinkedEvent,
    TrackingCheckpointEvent,
    event_from_dict,
)
from wismo.vocab import RETURN_STATUSES, TrackingStatus

META = ("events_applied", "version", "digest", "sources", "first_event_at", "last_event_at")


def _fold_bytes(events: list[Event]) -> bytes:
    return timeline_to_json(fold(events, order_id=ORDER_ID))


def _without_meta(events: list[Event]) -> dict[str, Any]:
    document = timeline_to_dict(fold(events, order_id=ORDER_ID))
    for key in META:
        document.pop(key)
    return document


@given(history=order_histories(), data=st.data())
def test_any_permutation_with_duplicates_gives_the_identical_timeline(
    history: list[Event], data: st.DataObject
) -> None:
    copies = [event for event in history for _ in range(data.draw(st.integers(1, 3)))]
    shuffled = data.draw(st.permutations(copies))
    assert _fold_bytes(shuffled) == _fold_bytes(history)


@given(history=order_histories(), data=st.data())
def test_redelivered_copies_with_other_receipt_times_change_nothing(
    history: list[Event], data: st.DataObject
) -> None:
    resent = [
        event.model_copy(update={"received_at": event.occurred_at + timedelta(minutes=m)})
        for event in history
        for m in data.draw(st.lists(st.integers(0, 10_000), max_size=2))
    ]
    arrival = data.draw(st.permutations(history + resent))
    assert _fold_bytes(arrival) == _fold_bytes(history)


@given(history=order_histories(), data=st.data())
def test_late_arrivals_converge_to_the_same_timeline(
    history: list[Event], data: st.DataObject
) -> None:
    late = data.draw(st.sets(st.sampled_from(range(len(history)))))
    on_time = [e for i, e in enumerate(history) if i not in late]
    arrived_late = [history[i] for i in sorted(late, reverse=True)]
    assert _fold_bytes(on_time + arrived_late) == _fold_bytes(history)


@given(history=order_histories())
def test_a_late_in_transit_scan_never_moves_a_delivered_package_back(
    history: list[Event],
) -> None:
    before = fold(history, order_id=ORDER_ID)
    latest = max(event.occurred_at for event in history)
    late_scans = []
    for shipment in before.shipments:
        for package in shipment.packages:
            if package.status is TrackingStatus.DELIVERED or package.status in RETURN_STATUSES:
                late_scans.append(_scan(package.tracking_number, latest + timedelta(hours=1)))
    after = fold([*history, *late_scans], order_id=ORDER_ID)
    for old, new in zip(before.shipments, after.shipments, strict=True):
        assert [p.status for p in new.packages] == [p.status for p in old.packages]
        assert new.status is old.status
        assert new.delivered_at == old.delivered_at
    assert after.status is before.status
    landed = {c.event_id for s in after.shipments for c in s.checkpoints}
    assert {scan.event_id for scan in late_scans} <= landed  # kept in history


@given(history=order_histories(), data=st.data())
def test_partial_payloads_never_erase_known_values(
    history: list[Event], data: st.DataObject
) -> None:
    latest = max(event.occurred_at for event in history)
    partial = [_event("order.changed", latest, {}), _event("order.changed", latest, {"lines": []})]
    for shipment in fold(history, order_id=ORDER_ID).shipments:
        if shipment.shipped_at is None:
            continue  # linked by hand: a fulfilment.shipped would say more than is known
        partial.append(_event("fulfilment.shipped", latest, {"shipment_id": shipment.shipment_id}))
    chosen = data.draw(st.lists(st.sampled_from(partial), min_size=1, unique_by=id))
    assert _without_meta([*history, *chosen]) == _without_meta(history)


@given(history=order_histories(), data=st.data())
def test_no_scan_is_lost_whatever_is_missing(history: list[Event], data: st.DataObject) -> None:
    subset = data.draw(st.lists(st.sampled_from(history), unique_by=lambda e: e.event_id))
    if not any(e.order_id for e in subset):
        return
    timeline = fold(subset, order_id=ORDER_ID)
    placed = [c.event_id for s in timeline.shipments for c in s.checkpoints]
    placed += [c.event_id for r in timeline.returns for c in r.checkpoints]
    placed += [c.event_id for c in timeline.orphan_checkpoints]
    scans = [e.event_id for e in subset if isinstance(e, TrackingCheckpointEvent)]
    assert sorted(placed) == sorted(scans)


@given(history=order_histories())
def test_orphans_attach_once_their_shipment_arrives(history: list[Event]) -> None:
    without_shipments = [e for e in history if e.kind is not EventKind.FULFILMENT_SHIPPED]
    parked = fold(without_shipments, order_id=ORDER_ID)
    scans = [e for e in history if isinstance(e, TrackingCheckpointEvent)]
    kept_elsewhere = _return_numbers(history) | _linked_numbers(history)
    assert len(parked.orphan_checkpoints) == len(
        [s for s in scans if s.tracking_number not in kept_elsewhere]
    )
    shipments = [e for e in history if e.kind is EventKind.FULFILMENT_SHIPPED]
    assert _fold_bytes([*without_shipments, *shipments]) == _fold_bytes(history)
    attached = fold(history, order_id=ORDER_ID)
    named = {p.tracking_number for s in attached.shipments for p in s.packages}
    assert all(c.tracking_number not in named for c in attached.orphan_checkpoints)


def _return_numbers(history: list[Event]) -> set[str]:
    return {
        n
        for e in history
        if e.kind.family == "return"
        for n in [getattr(e.payload, "tracking_number", None)]
        if n
    }


def _linked_numbers(history: list[Event]) -> set[str]:
    return {e.payload.tracking_number for e in history if isinstance(e, ShipmentLinkedEvent)}


_counter = iter(range(10**9))


def _event(kind: str, at: Any, payload: dict[str, Any]) -> Event:
    return event_from_dict(
        {
            "event_id": f"extra:{next(_counter)}",
            "source": "oms",
            "kind": kind,
            "order_id": ORDER_ID,
            "occurred_at": at.isoformat(),
            "payload": payload,
        }
    )


def _scan(tracking_number: str, at: Any) -> Event:
    return event_from_dict(
        {
            "event_id": f"late:{tracking_number}:{next(_counter)}",
            "source": "carrier",
            "kind": "tracking.checkpoint",
            "tracking_number": tracking_number,
            "occurred_at": at.isoformat(),
            "payload": {"status": "in_transit", "raw_code": "IT"},
        }
    )


def _continued(
    batches: list[list[Event]], order_id: str = ORDER_ID
) -> tuple[OrderFold, list[Event], int]:
    """Fold batch by batch the way the live store does; returns the fold, the events, extends."""
    seen: dict[str, Event] = {}
    state: OrderFold | None = None
    extended = 0
    for batch in batches:
        new = [e for e in batch if e.event_id not in seen]
        seen.update((e.event_id, e) for e in new)
        if state is not None and new and state.extend(new):
            extended += 1
        elif state is None or new:
            state = OrderFold.of(seen.values(), order_id)
    assert state is not None
    return state, list(seen.values()), extended


@given(history=order_histories(), data=st.data())
def test_a_continued_fold_equals_the_fold_from_scratch_after_every_batch(
    history: list[Event], data: st.DataObject
) -> None:
    in_time_order = data.draw(st.booleans())
    arrival = (
        sorted(history, key=lambda e: e.occurred_at)
        if in_time_order
        else data.draw(st.permutations(history))
    )
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(arrival) - 1)), max_size=8)))
    batches = [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]
    seen: list[list[Event]] = []
    for index in range(1, len(batches) + 1):
        seen = batches[:index]
        state, events, extended = _continued(seen)
        assert timeline_to_json(state.timeline) == _fold_bytes(events)
    event(f"continued {min(extended, 3)}+ times")


def _in_time_order(seed: int) -> tuple[str, list[Event]]:
    history = order_history(seed, random.Random(seed))
    order_id = next(e.order_id for e in history if e.order_id is not None)
    return order_id, sorted(history, key=lambda e: e.occurred_at)


@pytest.mark.parametrize("seed", range(20))
def test_live_traffic_in_time_order_mostly_continues_the_fold(seed: int) -> None:
    order_id, history = _in_time_order(seed)
    state, events, extended = _continued([[e] for e in history], order_id)
    assert timeline_to_json(state.timeline) == timeline_to_json(fold(events, order_id))
    # after the order, its fulfilment and its shipments are known, scans and payments continue
    continuable = [e for e in history[1:] if e.kind in CONTINUED_KINDS]
    assert extended >= len(continuable) // 2
    assert extended > 0


def test_a_late_or_already_folded_event_is_refused_and_changes_nothing() -> None:
    order_id, history = _in_time_order(3)
    state = OrderFold.of(history, order_id)
    before = timeline_to_json(state.timeline)
    late = history[len(history) // 2]
    assert not state.extend([late])
    assert not state.extend([late.model_copy(update={"event_id": "late-copy"})])
    assert timeline_to_json(state.timeline) == before
