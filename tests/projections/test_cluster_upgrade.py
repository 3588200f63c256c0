"""Upgrading a single-Redis deployment to the hash-tagged layout: nothing is lost.

The exception queue and the retention records moved to ``{idx}`` / ``{retention}``-tagged keys
(:mod:`projections.redis_upgrade`); the first writer or index reader moves what the former keys
hold, never overwriting what the new keys already hold.
"""

from __future__ import annotations

import random

import orjson
import redis.asyncio as aioredis

from projections.agent_index import AgentIndex
from projections.redis_keys import RedisKeys
from projections.redis_store import RedisTimelineStore
from tests.projections.synthetic import order_history


def _row(exception_id: str, state: str) -> bytes:
    return orjson.dumps({"exception_id": exception_id, "order_id": "ORD-OLD", "state": state})


async def _write_former_layout(client: aioredis.Redis, prefix: str) -> None:
    await client.hset(f"{prefix}:api:idx:exceptions", "exc:old", _row("exc:old", "open"))
    await client.hset(f"{prefix}:api:idx:exceptions", "exc:both", _row("exc:both", "former"))
    await client.zadd(f"{prefix}:api:idx:resolved", {"exc:old": 1.0})
    await client.zadd(f"{prefix}:retention:due", {"ORD-OLD": 2.0})
    await client.hset(f"{prefix}:retention:orders", "ORD-OLD", b"{}")


async def test_a_writer_adopts_the_former_keys(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = RedisKeys(redis_prefix)
    await _write_former_layout(redis_client, redis_prefix)
    await redis_client.hset(keys.index_exceptions, "exc:both", _row("exc:both", "newer"))

    store = RedisTimelineStore(redis_client, redis_prefix)
    await store.apply(order_history(1, random.Random(1)))

    for former in keys.legacy:
        assert not await redis_client.exists(former)
    assert await redis_client.hget(keys.index_exceptions, "exc:both") == _row("exc:both", "newer")
    rows = {r["exception_id"] for r in await store.agent_index.exceptions()}
    assert "exc:old" in rows
    assert await redis_client.zscore(keys.index_resolved, "exc:old") == 1.0
    assert await redis_client.zscore(keys.retention_due, "ORD-OLD") == 2.0
    assert await redis_client.hget(keys.retention_orders, "ORD-OLD") == b"{}"
    assert await store.agent_index.orders_by_number("100001") == ["ORD-1"]


async def test_an_index_reader_adopts_them_too(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    await _write_former_layout(redis_client, redis_prefix)
    index = AgentIndex(redis_client, redis_prefix)
    assert await index.exception("exc:old") is not None
    assert not await redis_client.exists(f"{redis_prefix}:api:idx:exceptions")
