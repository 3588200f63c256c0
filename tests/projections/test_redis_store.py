"""The Redis store beyond the shared contract: any delivery converges, concurrency, publishing."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from projections.redis_store import RedisTimelineStore
from projections.serialize import timeline_to_json
from projections.timeline import fold
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.projections.synthetic import order_history
from tests.strategies import ORDER_ID, order_histories
from wismo.events import Event, tracking_numbers_named


def foldable(delivered: list[Event]) -> list[Event]:
    """What the order holds: linked events, and unlinked scans a delivered shipment names."""
    named = {n for event in delivered for n in tracking_numbers_named(event)}
    return [e for e in delivered if e.order_id is not None or e.tracking_number in named]


async def _messages(client: aioredis.Redis, pubsub: aioredis.client.PubSub) -> list[bytes]:
    """Everything published on the agents channel so far: read up to a marker we publish."""
    (channel,) = pubsub.channels
    marker = f"end-{uuid.uuid4().hex}".encode()
    await client.publish(channel, marker)
    received = []
    async with asyncio.timeout(5):
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None:
                continue
            if message["data"] == marker:
                return received
            received.append(message["data"])


async def _deliver(prefix: str, batches: list[list[Event]], replay: list[Event]) -> dict[str, Any]:
    client = aioredis.Redis.from_url(REDIS_URL)
    store = RedisTimelineStore(client, prefix)
    pubsub = client.pubsub()
    await pubsub.subscribe(store.keys.agents_channel)
    try:
        changed = sum([len(await store.apply(batch)) for batch in batches])
        published = await _messages(client, pubsub)
        fresh = RedisTimelineStore(client, prefix)  # no cache: reads what Redis holds
        replay_changes = await fresh.apply(replay) + await store.apply(replay)
        return {
            "changed": changed,
            "published": published,
            "timeline": await store.timeline(ORDER_ID),
            "replay_changes": replay_changes,
            "replay_published": await _messages(client, pubsub),
        }
    finally:
        await pubsub.aclose()
        await drop_prefix(client, prefix)
        await client.aclose()


@given(history=order_histories(), data=st.data())
def test_any_delivery_converges_on_the_fold_of_the_set(history: list[Event], data: Any) -> None:
    copies = data.draw(st.lists(st.integers(0, 2), min_size=len(history), max_size=len(history)))
    deliveries = [e for e, n in zip(history, copies, strict=True) for _ in range(n)]
    deliveries = data.draw(st.permutations(deliveries))
    sizes = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=8))
    batches, start = [], 0
    while start < len(deliveries):
        size = sizes[len(batches) % len(sizes)]
        batches.append(list(deliveries[start : start + size]))
        start += size
    replay = data.draw(st.lists(st.sampled_from(deliveries), max_size=8)) if deliveries else []

    result = asyncio.run(_deliver(f"wismo-test-{uuid.uuid4().hex[:12]}", batches, replay))

    held = foldable(list(deliveries))
    if held:
        expected = timeline_to_json(fold(held, ORDER_ID))
        assert result["timeline"] == expected
        assert orjson.loads(result["published"][-1])["version"] == len({e.event_id for e in held})
    else:
        assert result["timeline"] is None
    assert len(result["published"]) == result["changed"]
    assert result["replay_changes"] == []
    assert result["replay_published"] == []


async def test_concurrent_writers_converge(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """Eight writers with their own caches race over one order; the last state is the fold."""
    history = order_history(1, random.Random(9))
    writers = [RedisTimelineStore(redis_client, redis_prefix) for _ in range(8)]
    rng = random.Random(2)

    async def write(store: RedisTimelineStore) -> None:
        for _ in range(6):
            await store.apply(rng.sample(history, rng.randrange(1, 4)))

    await asyncio.gather(*(write(w) for w in writers))
    await writers[0].apply(history)  # whatever the race left out

    reader = RedisTimelineStore(redis_client, redis_prefix)
    assert await reader.timeline("ORD-1") == timeline_to_json(fold(history, "ORD-1"))
    assert await reader.applied_ids("ORD-1") == {e.event_id for e in history}
    for writer in writers:
        assert await writer.apply(history) == []


async def test_each_change_is_published_once_on_the_order_and_agents_channels(
    redis_client: aioredis.Redis, redis_store: RedisTimelineStore
) -> None:
    history = order_history(1, random.Random(9))
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(redis_store.keys.order_channel("ORD-1"), redis_store.keys.agents_channel)
    try:
        changes = await redis_store.apply(history[:3])
        changes += await redis_store.apply(history)
        await redis_store.apply(history)
        await redis_client.publish(redis_store.keys.agents_channel, b"end")
        messages = []
        async with asyncio.timeout(5):
            while not messages or messages[-1][1] != b"end":
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    messages.append((message["channel"].decode(), message["data"]))
        messages.pop()
    finally:
        await pubsub.aclose()

    order_channel = redis_store.keys.order_channel("ORD-1")
    assert [data for channel, data in messages if channel == order_channel] == [
        c.timeline for c in changes
    ]
    summaries = [orjson.loads(d) for ch, d in messages if ch == redis_store.keys.agents_channel]
    assert summaries == [
        {"order_id": "ORD-1", "version": c.version, "digest": c.digest, "status": c.status}
        for c in changes
    ]


async def test_current_reports_what_redis_holds(redis_store: RedisTimelineStore) -> None:
    history = order_history(1, random.Random(9))
    (change,) = await redis_store.apply(history)

    assert await redis_store.current(["ORD-1", "ORD-404"]) == [change]


async def test_scripts_unknown_to_redis_are_loaded_again(redis_store: RedisTimelineStore) -> None:
    """After a restart or failover Redis no longer knows the scripts: they are loaded again.

    (Simulated by a SHA Redis never saw, rather than SCRIPT FLUSH on a shared server.)
    """
    history = order_history(1, random.Random(9))
    await redis_store.apply(history[:2])
    redis_store.writer._pipes.shas["commit"] = "0" * 40

    await redis_store.apply(history)

    assert await redis_store.timeline("ORD-1") == timeline_to_json(fold(history, "ORD-1"))


async def test_keys_of_an_order_share_one_cluster_slot(redis_store: RedisTimelineStore) -> None:
    from redis.crc import key_slot

    keys = redis_store.keys
    order_keys = [keys.events("A:1"), keys.state("A:1"), keys.dups("A:1")]
    assert len({key_slot(k.encode()) for k in order_keys}) == 1
    tracking = [keys.tracking("1Z9"), keys.parked("1Z9")]
    assert len({key_slot(k.encode()) for k in tracking}) == 1


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "redis://user:secret@127.0.0.1:1/0"])
async def test_unreachable_redis_is_a_clear_error(url: str) -> None:
    from projections.connections import redis_client
    from projections.errors import StoreUnavailable
    from wismo.settings import RedisSettings, Settings

    with pytest.raises(StoreUnavailable, match=r"Redis unreachable at redis://") as caught:
        await redis_client(Settings(redis=RedisSettings(url=url)), timeout_s=1)
    assert "secret" not in str(caught.value)
