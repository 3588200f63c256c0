"""Store fixtures: real Redis (unique prefix per test, keys removed after), the memory store."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from projections.memory_store import MemoryTimelineStore
from projections.redis_store import RedisTimelineStore

REDIS_URL = os.environ.get("WISMO_REDIS_URL", "redis://127.0.0.1:6379/0")


async def drop_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])


@pytest.fixture
def redis_prefix() -> str:
    return f"wismo-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await drop_prefix(client, redis_prefix)
        await client.aclose()


@pytest.fixture
async def redis_store(redis_client: aioredis.Redis, redis_prefix: str) -> RedisTimelineStore:
    return RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL)


@pytest.fixture
def memory_store() -> MemoryTimelineStore:
    return MemoryTimelineStore()
