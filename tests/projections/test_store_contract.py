"""One contract for every timeline store, run against each implementation for real.

``projection_store`` covers what every store serves (events in, timelines out): the memory
store, Redis and the chDB-backed ClickHouse store. ``timeline_store`` adds the live-path parts
(indexes, parked scans, duplicate counts) served by the memory store and Redis.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from projections.ordering import canonical_sequence
from projections.serialize import timeline_to_json
from projections.store import ProjectionStore, TimelineStore
from projections.timeline import fold
from tests.projections.synthetic import destination, histories, order_history, parcel_number
from wismo.events import Event, EventKind

PROJECTION_STORES = ["memory", "redis", "redis_refold", "redis_cluster", "clickhouse"]
TIMELINE_STORES = ["memory", "redis", "redis_refold", "redis_cluster"]


@pytest.fixture(params=PROJECTION_STORES)
def projection_store(request: pytest.FixtureRequest) -> ProjectionStore:
    store: ProjectionStore = request.getfixturevalue(f"{request.param}_store")
    return store


PARCEL_1, PARCEL_2 = parcel_number(1), parcel_number(2)
POSTCODE_1 = destination(1)[2]


@pytest.fixture(params=TIMELINE_STORES)
def timeline_store(request: pytest.FixtureRequest) -> TimelineStore:
    store: TimelineStore = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture
def history() -> list[Event]:
    return order_history(1, random.Random(3))


def expected(events: list[Event], order_id: str = "ORD-1") -> bytes:
    return timeline_to_json(fold(events, order_id))


def unlinked(events: list[Event]) -> Iterator[Event]:
    """The history as a carrier sends it: scans carry no order id."""
    for event in events:
        if event.kind in (EventKind.TRACKING_CHECKPOINT, EventKind.EDD_REVISED):
            yield event.model_copy(update={"order_id": None})
        else:
            yield event


# events in, timelines out -------------------------------------------------------------------


async def test_apply_stores_the_fold_of_the_events(
    projection_store: ProjectionStore, history: list[Event]
) -> None:
    changes = await projection_store.apply(history)

    timeline = fold(history, "ORD-1")
    assert [(c.order_id, c.version, c.digest, c.status) for c in changes] == [
        ("ORD-1", len(history), timeline.digest, timeline.status.value)
    ]
    assert changes[0].timeline == expected(history)
    assert await projection_store.timeline("ORD-1") == expected(history)
    assert await projection_store.events("ORD-1") == canonical_sequence(history)
    assert await projection_store.applied_ids("ORD-1") == {e.event_id for e in history}


async def test_unknown_order_has_nothing(projection_store: ProjectionStore) -> None:
    assert await projection_store.timeline("ORD-404") is None
    assert await projection_store.events("ORD-404") == []
    assert await projection_store.applied_ids("ORD-404") == frozenset()


async def test_reapplying_any_subset_changes_nothing(
    projection_store: ProjectionStore, history: list[Event]
) -> None:
    await projection_store.apply(history)
    rng = random.Random(5)
    for size in (len(history), 1, len(history) // 2):
        subset = rng.sample(history, size)
        assert await projection_store.apply(subset + subset[:1]) == []
    assert await projection_store.timeline("ORD-1") == expected(history)
    assert len(await projection_store.events("ORD-1")) == len(history)


async def test_batches_add_up_to_the_whole(
    projection_store: ProjectionStore, history: list[Event]
) -> None:
    shuffled = random.Random(11).sample(history, len(history))
    versions = []
    for start in range(0, len(shuffled), 3):
        changes = await projection_store.apply(shuffled[start : start + 3])
        versions += [c.version for c in changes]
    assert versions == sorted(versions)
    assert versions[-1] == len(history)
    assert await projection_store.timeline("ORD-1") == expected(history)


async def test_one_change_per_order_in_a_mixed_batch(projection_store: ProjectionStore) -> None:
    orders = list(histories(5, seed=2))
    batch = [event for history in orders for event in history]
    random.Random(1).shuffle(batch)

    changes = await projection_store.apply(batch)

    assert sorted(c.order_id for c in changes) == [f"ORD-{i}" for i in range(5)]
    for index, history in enumerate(orders):
        assert await projection_store.timeline(f"ORD-{index}") == expected(history, f"ORD-{index}")


async def test_a_preferred_copy_wins_whatever_the_arrival_order(
    projection_store: ProjectionStore, history: list[Event]
) -> None:
    """Of two copies of one event, the store keeps the earlier received, as ``dedupe`` does."""
    placed = history[0]
    assert placed.received_at is not None
    later = placed.model_copy(update={"received_at": placed.received_at.replace(year=2027)})
    await projection_store.apply([later, *history[1:]])
    await projection_store.apply([placed])

    assert await projection_store.events("ORD-1") == canonical_sequence(history)
    assert await projection_store.timeline("ORD-1") == expected(history)


# the live store: indexes, parking, duplicates --------------------------------------------------


async def test_tracking_and_customer_lookups(
    timeline_store: TimelineStore, history: list[Event]
) -> None:
    await timeline_store.apply(history)

    assert await timeline_store.order_for_tracking(PARCEL_1) == "ORD-1"
    assert await timeline_store.order_for_tracking("1ZUNKNOWN") is None
    assert await timeline_store.order_for_lookup("100001", email="Customer1@example.com ") == (
        "ORD-1"
    )
    assert (
        await timeline_store.order_for_lookup("#100001", postcode=f" {POSTCODE_1.lower()} ")
        == "ORD-1"
    )
    assert await timeline_store.order_for_lookup("100001", email="someone@else.com") is None
    assert await timeline_store.order_for_lookup("100002", email="customer1@example.com") is None
    assert await timeline_store.order_for_lookup("100001") is None


async def test_a_scan_before_its_shipment_is_parked_then_applied(
    timeline_store: TimelineStore, history: list[Event]
) -> None:
    carrier_view = list(unlinked(history))
    scans = [e for e in carrier_view if e.order_id is None]
    order_side = [e for e in carrier_view if e.order_id is not None]
    shipped = [e for e in order_side if e.kind is EventKind.FULFILMENT_SHIPPED]
    before = [e for e in order_side if e.kind is not EventKind.FULFILMENT_SHIPPED]

    assert await timeline_store.apply(scans) == []
    assert await timeline_store.parked(PARCEL_1) == canonical_sequence(scans)
    await timeline_store.apply(before)
    changes = await timeline_store.apply(shipped)

    assert [c.version for c in changes] == [len(history)]
    assert await timeline_store.timeline("ORD-1") == expected(history)
    assert await timeline_store.parked(PARCEL_1) == []
    assert all(e.order_id == "ORD-1" for e in await timeline_store.events("ORD-1"))


async def test_park_hands_back_scans_whose_shipment_is_known(
    timeline_store: TimelineStore, history: list[Event]
) -> None:
    carrier_view = list(unlinked(history))
    scans = [e for e in carrier_view if e.order_id is None]
    await timeline_store.apply([e for e in carrier_view if e.order_id is not None])

    linked = await timeline_store.park(scans)

    assert [e.event_id for e in linked] == [e.event_id for e in scans]
    assert {e.order_id for e in linked} == {"ORD-1"}
    assert await timeline_store.parked(PARCEL_1) == []


async def test_release_takes_the_parked_scans(timeline_store: TimelineStore) -> None:
    scans = [e for e in unlinked(order_history(2, random.Random(4))) if e.order_id is None]
    assert await timeline_store.park(scans) == []

    released = await timeline_store.release(PARCEL_2)

    assert released == canonical_sequence(scans)
    assert await timeline_store.release(PARCEL_2) == []


async def test_duplicate_deliveries_are_counted(
    timeline_store: TimelineStore, history: list[Event]
) -> None:
    first = history[0].event_id
    await timeline_store.apply([*history, history[0]])
    await timeline_store.apply(history[:1])

    assert await timeline_store.duplicates("ORD-1") == {first: 2}
    assert await timeline_store.duplicates("ORD-404") == {}
