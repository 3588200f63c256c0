"""The link agent's batch step on the real Redis: partition order within a batch, round trips,
retries, and the same outcome as taking the messages one at a time."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from itertools import pairwise
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.links import LinkIndex
from streams.agents.link import link_batch
from streams.linking import Tracked, needs, plan
from streams.metrics import StreamMetrics
from tests.streams.link_stream import CountingRedis, Sink, one_at_a_time, scan, shipment
from wismo.events import dump_event

REDIS_URL = "redis://127.0.0.1:6379/0"
N1, N2, N9 = "1ZT0001", "1ZT0002", "1ZT0009"


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"wismo-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def clean(redis: aioredis.Redis, prefix: str) -> AsyncIterator[None]:
    yield
    await _drop(redis, prefix)


async def _drop(redis: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


async def parked_ids(index: LinkIndex, numbers: list[str]) -> dict[str, set[str]]:
    _, parked = await index.lookup([], numbers)
    return {number: set(scans) for number, scans in parked.items()}


@pytest.mark.usefixtures("clean")
async def test_a_scan_before_its_shipment_in_the_batch_is_forwarded_with_that_order(
    redis: aioredis.Redis, prefix: str
) -> None:
    index, sink = LinkIndex(redis, prefix), Sink()
    batch = [scan(N1, "ups:a"), shipment(N1, "O1"), scan(N1, "ups:b")]
    await link_batch(index, batch, sink, StreamMetrics())
    assert sink.forwarded() == Counter({("ups:a", "O1"): 1, ("ups:b", "O1"): 1})
    assert await index.order_for(N1) == "O1"
    assert await index.parked_count(N1) == 0


@pytest.mark.usefixtures("clean")
async def test_a_shipment_then_its_scans_in_one_batch_are_forwarded_not_parked(
    redis: aioredis.Redis, prefix: str
) -> None:
    index, sink = LinkIndex(redis, prefix), Sink()
    batch = [shipment(N1, "O1"), scan(N1, "ups:a"), scan(N1, "ups:b")]
    await link_batch(index, batch, sink, StreamMetrics())
    assert [key for key, _ in sink.sent] == ["O1", "O1"]
    assert await index.parked_count(N1) == 0


@pytest.mark.usefixtures("clean")
async def test_unknown_numbers_are_parked_and_a_later_batch_releases_them(
    redis: aioredis.Redis, prefix: str
) -> None:
    index, metrics = LinkIndex(redis, prefix), StreamMetrics()
    first = Sink()
    await link_batch(
        index,
        [
            scan(N1, "ups:a"),
            scan(N2, "ups:b"),
            scan(N1, "ups:c"),
            scan(N1, "ups:a"),
        ],
        first,
        metrics,
    )
    assert first.sent == []
    assert await parked_ids(index, [N1, N2]) == {
        N1: {"ups:a", "ups:c"},
        N2: {"ups:b"},
    }

    second = Sink()
    await link_batch(index, [scan(N1, "ups:d"), shipment(N1, "O1")], second, metrics)
    assert second.forwarded() == Counter(
        {("ups:a", "O1"): 1, ("ups:c", "O1"): 1, ("ups:d", "O1"): 1}
    )
    assert await parked_ids(index, [N1, N2]) == {N2: {"ups:b"}}
    assert metrics.parked._value.get() == 3  # ups:d waited in its batch for the shipment
    assert metrics.released._value.get() == 2


@pytest.mark.usefixtures("clean")
async def test_a_number_linked_in_redis_forwards_its_scans(
    redis: aioredis.Redis, prefix: str
) -> None:
    index, sink = LinkIndex(redis, prefix), Sink()
    await index.record({N1: "O1"}, {})
    await link_batch(index, [scan(N1, "ups:a"), scan(N9, "ups:z")], sink, StreamMetrics())
    assert sink.forwarded() == Counter({("ups:a", "O1"): 1})
    assert await parked_ids(index, [N1, N9]) == {N9: {"ups:z"}}


@pytest.mark.usefixtures("clean")
async def test_a_batch_is_three_round_trips_however_large(
    redis: aioredis.Redis, prefix: str
) -> None:
    counting = CountingRedis(redis)
    index = LinkIndex(counting, prefix)  # type: ignore[arg-type]
    batch: list[Tracked] = []
    for n in range(100):
        number = f"1ZT{n:04d}"
        batch += [scan(number, f"ups:{n}:0"), scan(number, f"ups:{n}:1")]
    await link_batch(index, batch, Sink(), StreamMetrics())  # all parked
    assert counting.trips == 2  # read, write

    counting.trips = 0
    batch = []
    for n in range(100):
        number = f"1ZT{n:04d}"
        batch += [shipment(number, f"O{n}"), scan(number, f"ups:{n}:2")]
    sink = Sink()
    await link_batch(index, batch, sink, StreamMetrics())
    assert counting.trips == 3  # read, write, forget the 200 released
    assert len(sink.sent) == 300
    assert await parked_ids(index, [f"1ZT{n:04d}" for n in range(100)]) == {}


@pytest.mark.usefixtures("clean")
async def test_released_scans_stay_parked_until_the_broker_acknowledges_their_copies(
    redis: aioredis.Redis, prefix: str
) -> None:
    index = LinkIndex(redis, prefix)
    await index.record({}, {N1: {"ups:a": _raw(scan(N1, "ups:a"))}})

    async def refused(key: str, value: bytes) -> Awaitable[Any]:
        async def delivery() -> None:
            raise RuntimeError("broker refused")

        return delivery()

    with pytest.raises(RuntimeError):
        await link_batch(index, [shipment(N1, "O1")], refused, StreamMetrics())
    assert await index.parked_count(N1) == 1  # the redelivered batch releases it again
    sink = Sink()
    await link_batch(index, [shipment(N1, "O1")], sink, StreamMetrics())
    assert sink.forwarded() == Counter({("ups:a", "O1"): 1})
    assert await index.parked_count(N1) == 0


@pytest.mark.parametrize("lost", [1, 2, 3])
@pytest.mark.usefixtures("clean")
async def test_a_lost_redis_reply_retries_the_step_with_the_same_outcome(
    redis: aioredis.Redis, prefix: str, lost: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streams.context.asyncio.sleep", _no_wait)
    await LinkIndex(redis, prefix).record({}, {N1: {"ups:p": _raw(scan(N1, "ups:p"))}})
    index = LinkIndex(CountingRedis(redis, lose_reply={lost}), prefix)  # type: ignore[arg-type]
    batch = [
        scan(N1, "ups:a"),
        shipment(N1, "O1"),
        shipment(N1, "O2"),  # the number moves to another order: later scans follow it
        scan(N1, "ups:b"),
        scan(N2, "ups:c"),
    ]
    sink, metrics = Sink(), StreamMetrics()
    await link_batch(index, batch, sink, metrics)
    assert metrics.retries.labels("redis")._value.get() == 1
    assert sink.forwarded() == Counter({("ups:p", "O1"): 1, ("ups:a", "O1"): 1, ("ups:b", "O2"): 1})
    assert await LinkIndex(redis, prefix).order_for(N1) == "O2"
    assert await parked_ids(LinkIndex(redis, prefix), [N1, N2]) == {N2: {"ups:c"}}


async def _no_wait(_: float) -> None:
    return None


def _raw(item: Tracked) -> bytes:
    return dump_event(item.event)


def test_the_plan_reads_links_only_where_a_scan_comes_before_any_shipment() -> None:
    batch = [
        shipment(N1, "O1"),
        scan(N1, "a"),
        scan(N2, "b"),
        shipment(N2, "O2"),
    ]
    wanted = needs(batch)
    assert wanted.links == {N2}
    assert wanted.parked == {N1, N2}
    decided = plan(batch, {N2: None}, {})
    assert [(order, event.event_id) for order, event in decided.forwards] == [
        ("O1", "a"),
        ("O2", "b"),
    ]
    assert decided.parks == {}
    assert decided.links == {N1: "O1", N2: "O2"}


# --- property: any interleaving, any batch split, same as one message at a time ---------------

NUMBERS = ["1ZT000A", "1ZT000B", "1ZT000C"]
message = st.one_of(
    st.tuples(st.just("scan"), st.sampled_from(NUMBERS), st.integers(0, 7)),
    st.tuples(st.just("ship"), st.sampled_from(NUMBERS), st.sampled_from(["O1", "O2"])),
)


def _tracked(kind: str, number: str, detail: int | str) -> Tracked:
    if kind == "scan":
        return scan(number, f"ups:{number}:{detail}")  # repeated ids are redeliveries
    return shipment(number, f"{detail}-{number}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(message, max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=5),
)
def test_any_batching_forwards_and_parks_what_one_at_a_time_does(
    messages: list[tuple[str, str, int | str]], cuts: list[int]
) -> None:
    stream = [_tracked(*m) for m in messages]
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    batches = [stream[a:b] for a, b in pairwise(bounds)]
    expected = one_at_a_time(stream)
    forwarded, parked, links = asyncio.run(_run_batches(batches))

    assert forwarded == expected.forwarded
    assert parked == {n: ids for n, ids in expected.parked.items() if ids}
    assert links == expected.links
    # every scan is forwarded or parked (as a set of ids: redeliveries may repeat), never lost
    scans = {t.event.event_id for t in stream if t.event.order_id is None}
    assert {event_id for event_id, _ in forwarded} | set().union(*parked.values()) == scans
    assert not set(parked) & set(links)  # nothing is left parked under a linked number


async def _run_batches(
    batches: list[list[Tracked]],
) -> tuple[Counter[tuple[str, str]], dict[str, set[str]], dict[str, str]]:
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"wismo-test-{uuid.uuid4().hex[:8]}"
    try:
        index, sink = LinkIndex(client, prefix), Sink()
        for batch in batches:
            await link_batch(index, batch, sink, StreamMetrics())
        known, _ = await index.lookup(NUMBERS, [])
        links = {n: o for n, o in known.items() if o is not None}
        return sink.forwarded(), await parked_ids(index, NUMBERS), links
    finally:
        await _drop(client, prefix)
        await client.aclose()


@pytest.mark.usefixtures("clean")
async def test_one_link_index_for_the_agent_the_store_and_readers(
    redis: aioredis.Redis, prefix: str
) -> None:
    """On the live path the timeline store leaves parked scans to the link agent (which sends
    them on through the events topic), and reads the links the agent wrote."""
    from projections.redis_store import RedisTimelineStore
    from wismo.events import parse_event

    index, sink = LinkIndex(redis, prefix), Sink()
    store = RedisTimelineStore(redis, prefix, link_shipments=False)
    await link_batch(index, [scan(N1, "ups:a")], sink, StreamMetrics())
    assert [e.event_id for e in await store.parked(N1)] == ["ups:a"]  # the agent's parking

    await store.apply([shipment(N1, "O1").event])  # the timeline worker commits the shipment
    assert [e.event_id for e in await store.parked(N1)] == ["ups:a"]  # left to the agent

    await link_batch(index, [shipment(N1, "O1")], sink, StreamMetrics())
    assert sink.forwarded() == Counter({("ups:a", "O1"): 1})
    assert await store.parked(N1) == []
    assert await store.order_for_tracking(N1) == "O1"  # what the API's tracking lookup reads
    await store.apply([parse_event(value) for _, value in sink.sent])
    assert sorted(e.event_id for e in await store.events("O1")) == [
        "ups:a",
        shipment(N1, "O1").event.event_id,
    ]
    assert await store.duplicates("O1") == {}
