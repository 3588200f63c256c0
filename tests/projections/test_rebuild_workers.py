"""Rebuilding processes write exactly the Redis state one process writes: every key under the
prefix, the agent index, the customer lookups, the tracking links and retention bookkeeping."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis

from bench.history import generate
from bench.orders import HISTORY
from projections.clickhouse_store import ClickHouse, ClickHouseStore, ClickHouseWriter
from projections.errors import StoreError
from projections.rebuild import rebuild
from projections.rebuild_workers import StoreRecipe
from projections.redis_pipes import text
from projections.redis_store import RedisTimelineStore
from tests.projections.conftest import REDIS_URL

KEEP_S = 3600  # retention on: final orders are filed for expiry
ORDERS = 160
MIX = replace(HISTORY, exception_opened=0.3)  # exceptions as events: the agent queue fills


def _recipe(prefix: str) -> StoreRecipe:
    return StoreRecipe(REDIS_URL, prefix, KEEP_S)


async def redis_state(client: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` with its value, the prefix written ``P``. What the server
    clock decides is left out: an order's ``rev`` and the exact second its expiry is due."""

    def plain(value: Any) -> bytes:
        return bytes(value).replace(prefix.encode(), b"P")

    found: dict[str, Any] = {}
    async for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
        key = text(raw)
        kind = text(await client.type(key))
        value: Any
        if kind == "string":
            value = plain(await client.get(key))
        elif kind == "hash":
            value = {plain(k): plain(v) for k, v in (await client.hgetall(key)).items()}
            if key.endswith(":state"):
                del value[b"rev"]
        elif kind == "set":
            value = {plain(member) for member in await client.smembers(key)}
        else:
            assert kind == "zset", key
            scored: list[Any] = await client.zrange(key, 0, -1, withscores=True)
            due = key.endswith("{retention}:due")
            value = {plain(member): (None if due else score) for member, score in scored}
        found[key.replace(prefix, "P", 1)] = (kind, value, await client.ttl(key) > 0)
    return found


async def _log(clickhouse: ClickHouse) -> ClickHouseStore:
    history = generate(ORDERS, seed=11, malformed_share=0, mix=MIX)
    logged = list(history.valid_events.values())
    async with ClickHouseWriter(clickhouse, batch_rows=20_000) as writer:
        await writer.add_events(logged)
        await writer.flush()
        await writer.add_events(logged[::7])  # copies the log has not collapsed yet
    return ClickHouseStore(clickhouse)


async def test_rebuilding_processes_write_what_one_process_writes(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    log = await _log(clickhouse)
    one, two = f"{redis_prefix}:one", f"{redis_prefix}:two"
    inline = await rebuild(log, RedisTimelineStore(redis_client, one, retention_s=KEEP_S))
    parallel = await rebuild(
        log,
        RedisTimelineStore(redis_client, two, retention_s=KEEP_S),
        workers=2,
        batch_events=250,  # several chunks per process
        recipe=_recipe(two),
    )

    assert (parallel.orders, parallel.events, parallel.changed) == (
        inline.orders, inline.events, inline.changed,
    )  # fmt: skip
    assert inline.orders > ORDERS * 0.9
    written = await redis_state(redis_client, one)
    kinds = {key.rsplit(":", 1)[-1] for key in written}
    assert {"events", "state", "dups", "exceptions", "due", "orders"} <= kinds
    assert any(key.startswith("P:api:idx:number:") for key in written)
    assert any(key.startswith("P:lookup:") for key in written)
    assert any(key.startswith("P:track:") for key in written)
    assert await redis_state(redis_client, two) == written

    # over orders Redis already holds, rebuilding processes merge: nothing changes
    again = await rebuild(
        log,
        RedisTimelineStore(redis_client, two, retention_s=KEEP_S),
        workers=2,
        recipe=_recipe(two),
    )
    assert (again.events, again.changed) == (inline.events, 0)
    merged = await redis_state(redis_client, two)
    # the orders' events, timelines and the indexes stay (the duplicate counts now count each
    # logged event once more, and the bulk create rewrites final orders' pointers and marks)
    assert _orders_and_indexes(merged) == _orders_and_indexes(written)


def _orders_and_indexes(state: dict[str, Any]) -> dict[str, Any]:
    kept = (":events", ":state", "{idx}:exceptions", "{retention}:due", "{retention}:orders")
    return {
        key: value
        for key, value in state.items()
        if key.endswith(kept) or key.startswith("P:api:idx:")
    }


async def test_rebuilding_processes_need_the_store_recipe(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    with pytest.raises(ValueError, match="recipe"):
        await rebuild(ClickHouseStore(clickhouse), RedisTimelineStore(redis_client), workers=2)


async def test_an_unreachable_redis_in_a_rebuilding_process_is_a_store_error(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    log = await _log(clickhouse)
    unreachable = "redis://:hunter2@127.0.0.1:1/0"
    with pytest.raises(
        StoreError, match=re.escape("Redis unreachable at redis://:***@127.0.0.1:1")
    ):
        await rebuild(
            log,
            RedisTimelineStore(redis_client, redis_prefix),
            workers=1,
            recipe=StoreRecipe(unreachable, redis_prefix),
        )
