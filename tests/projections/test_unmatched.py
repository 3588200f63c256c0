"""The unmatched-scan index: parked numbers listed, searched and paged, on one Redis and on a
Redis Cluster, kept in step with parking and releasing by the link agent and by the store."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from itertools import pairwise

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.links import LinkIndex
from projections.unmatched import CURSOR_PATTERN, Cursor, decode_cursor, matches, normalise_query
from streams.agents.link import link_batch
from streams.linking import Tracked
from streams.metrics import StreamMetrics
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.streams.link_stream import Sink, scan, shipment
from wismo.events import Event, dump_event, event_from_dict

BACKENDS = ["redis_client", "redis_cluster_client"]


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest) -> aioredis.Redis:
    found: aioredis.Redis = request.getfixturevalue(request.param)
    return found


def dhl_scan(number: str, event_id: str, status: str, minute: int) -> Event:
    return event_from_dict(
        {
            "event_id": event_id,
            "source": "aftership",
            "kind": "tracking.checkpoint",
            "tracking_number": number,
            "occurred_at": f"2026-03-02T10:{minute:02d}:00Z",
            "payload": {"status": status, "carrier": "dhl"},
        }
    )


async def every_number(index: LinkIndex, query: str = "", limit: int = 7) -> list[str]:
    """Page through the whole index; every number must come exactly once."""
    seen: list[str] = []
    cursor: Cursor | None = None
    while True:
        rows, cursor, _ = await index.unmatched(query, limit, cursor)
        seen += [row.tracking_number for row in rows]
        if cursor is None:
            return seen


async def test_numbers_parked_by_the_link_agent_are_listed_until_a_shipment_releases_them(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    index = LinkIndex(client, redis_prefix)
    batch = [scan(f"1ZU{n:04d}", f"ups:{n}:{i}", i) for n in range(30) for i in range(2)]
    await link_batch(index, batch, Sink(), StreamMetrics())  # 30 numbers, one millisecond
    listed = await every_number(index)
    assert Counter(listed) == Counter(f"1ZU{n:04d}" for n in range(30))
    rows, _, total = await index.unmatched("1ZU0007", 10)
    assert total == 30
    assert [(r.tracking_number, r.scans, r.carrier, r.latest_status) for r in rows] == [
        ("1ZU0007", 2, "ups", "in_transit")
    ]
    assert rows[0].first_parked_at <= rows[0].last_parked_at

    await link_batch(
        index, [shipment(f"1ZU{n:04d}", f"O{n}") for n in range(10)], Sink(), StreamMetrics()
    )
    assert sorted(await every_number(index)) == [f"1ZU{n:04d}" for n in range(10, 30)]
    assert (await index.unmatched("", 5))[2] == 20


async def test_search_by_number_prefix_or_carrier_and_the_latest_status(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    index = LinkIndex(client, redis_prefix)
    await index.park([scan("1ZAB0001", "ups:a").event, scan("1ZAB0002", "ups:b").event])
    dhl = [
        dhl_scan("JD0001", "as:1", "in_transit", 1),
        dhl_scan("JD0001", "as:2", "out_for_delivery", 9),
    ]
    await index.park(dhl[::-1])  # the latest scan by time, whatever the order it came in
    assert sorted(await every_number(index, normalise_query(" 1zab "))) == ["1ZAB0001", "1ZAB0002"]
    rows, cursor, _ = await index.unmatched(normalise_query("DHL"), 10)
    assert cursor is None
    assert [(r.tracking_number, r.scans, r.latest_status, r.sources) for r in rows] == [
        ("JD0001", 2, "out_for_delivery", ["aftership"])
    ]
    assert (await index.unmatched("NOPE", 10))[0] == []


async def test_a_number_leaves_the_index_with_its_last_scan_only(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    index = LinkIndex(client, redis_prefix)
    await index.park([scan("1ZR1", "ups:a").event, scan("1ZR1", "ups:b").event])
    await index.forget({"1ZR1": ["ups:a"]})
    assert [r.scans for r in (await index.unmatched("", 10))[0]] == [1]
    await index.forget({"1ZR1": ["ups:b"]})
    assert await index.unmatched("", 10) == ([], None, 0)

    await index.park([scan("1ZR2", "ups:c").event])
    assert [e.event_id for e in await index.release("1ZR2")] == ["ups:c"]
    assert await index.unmatched("", 10) == ([], None, 0)


async def test_a_rare_search_stops_at_its_budget_with_a_cursor_to_go_on(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = LinkIndex(redis_client, redis_prefix)
    batch = [scan(f"1ZB{n:04d}", f"ups:{n}") for n in range(450)]
    await link_batch(index, batch, Sink(), StreamMetrics())
    rows, cursor, _ = await index.unmatched("1ZB0000", 5, budget=200)
    assert rows == []  # 1ZB0000 sorts last: not reached yet
    assert cursor is not None
    found: list[str] = []
    while cursor is not None:
        rows, cursor, _ = await index.unmatched("1ZB0000", 5, cursor, budget=200)
        found += [r.tracking_number for r in rows]
    assert found == ["1ZB0000"]


numbers = st.from_regex(r"[0-9A-Z]{4,20}", fullmatch=True)
stamps = st.integers(min_value=0, max_value=10**15)


@given(stamps, numbers | st.text(min_size=1, max_size=64))
def test_a_cursor_reads_back_as_itself(first_ms: int, number: str) -> None:
    cursor = Cursor(first_ms, number)
    assert decode_cursor(cursor.encode()) == cursor


@given(st.text(max_size=40) | st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_anything_else_is_no_cursor_and_every_cursor_shaped_text_is_one(text: str) -> None:
    cursor = decode_cursor(text)
    assert (cursor is None) == (re.fullmatch(CURSOR_PATTERN, text) is None)


@given(
    st.lists(st.tuples(st.integers(0, 5), numbers), min_size=1, max_size=30, unique=True), st.data()
)
def test_the_entries_after_a_cursor_are_exactly_those_listed_after_it(
    entries: list[tuple[int, str]], data: st.DataObject
) -> None:
    listing = sorted(entries, reverse=True)  # newest first, ties by number descending
    at = data.draw(st.integers(0, len(listing) - 1))
    cursor = Cursor(*listing[at])
    assert [e for e in listing if cursor.after(*e)] == listing[at + 1 :]


@given(numbers, st.sampled_from(["ups", "dhl", None]))
def test_a_number_answers_its_own_prefixes_and_its_carrier(
    number: str, carrier: str | None
) -> None:
    for end in range(len(number) + 1):
        assert matches(normalise_query(number[:end].lower()), number, carrier)
    if carrier is not None:
        assert matches(normalise_query(carrier.upper()), number, carrier)


async def test_numbers_parked_before_the_index_existed_are_indexed_once_looked_for(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    index = LinkIndex(client, redis_prefix)
    await index.park([scan("1ZOLD0001", "ups:old").event])
    rows, _, _ = await index.unmatched("", 10)
    first = rows[0].first_parked_at
    for key in index.keys.unmatched_first, index.keys.unmatched_last, index.keys.unmatched_carrier:
        await client.delete(key)  # as before the index existed
    await client.hset(
        index.keys.parked("1ZOLD0002"),
        "dhl:x",
        dump_event(dhl_scan("1ZOLD0002", "dhl:x", "in_transit", 1)),
    )
    assert await index.unmatched("", 10) == ([], None, 0)
    assert await index.index_parked(batch=1) == 2
    assert await index.index_parked() == 0  # done once
    rows, _, total = await index.unmatched("", 10)
    assert total == 2
    assert {(r.tracking_number, r.carrier) for r in rows} == {
        ("1ZOLD0001", "ups"),
        ("1ZOLD0002", "dhl"),
    }
    assert all(r.first_parked_at >= first for r in rows)


# --- property: the index lists exactly what is parked, whatever the stream and its batching ---

NUMBERS = ["1ZT000A", "1ZT000B", "1ZT000C"]
message = st.one_of(
    st.tuples(st.just("scan"), st.sampled_from(NUMBERS), st.integers(0, 7)),
    st.tuples(st.just("ship"), st.sampled_from(NUMBERS), st.sampled_from(["O1", "O2"])),
)


def tracked(kind: str, number: str, detail: int | str) -> Tracked:
    if kind == "scan":
        return scan(number, f"ups:{number}:{detail}")  # repeated ids are redeliveries
    return shipment(number, f"{detail}-{number}")


async def index_after(batches: list[list[Tracked]]) -> tuple[dict[str, int], dict[str, int]]:
    """(number → scans listed by the index, number → scans parked) after the batches."""
    client = aioredis.Redis.from_url(REDIS_URL)
    index = LinkIndex(client, f"wismo-test-{uuid.uuid4().hex[:12]}")
    try:
        for batch in batches:
            await link_batch(index, batch, Sink(), StreamMetrics())
        rows, _, total = await index.unmatched("", 200)
        assert total == len(rows)
        _, parked = await index.lookup((), NUMBERS)
        return {r.tracking_number: r.scans for r in rows}, {n: len(s) for n, s in parked.items()}
    finally:
        await drop_prefix(client, index.keys.prefix)
        await client.aclose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message, max_size=25), st.lists(st.integers(0, 25), max_size=4))
def test_the_index_lists_exactly_the_parked_numbers(
    messages: list[tuple[str, str, int | str]], cuts: list[int]
) -> None:
    stream = [tracked(*m) for m in messages]
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    listed, parked = asyncio.run(index_after([stream[a:b] for a, b in pairwise(bounds)]))
    assert listed == parked
