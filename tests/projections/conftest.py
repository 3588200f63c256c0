"""Store fixtures: real Redis (unique prefix per test, keys removed after), chDB (one engine per
process, a fresh database per test) and the memory store."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from projections.clickhouse_schema import migrate
from projections.clickhouse_store import ClickHouse, ClickHouseStore
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
async def redis_refold_store(redis_client: aioredis.Redis, redis_prefix: str) -> RedisTimelineStore:
    """The Redis store refolding every order on each apply (the benchmark's baseline)."""
    return RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL, continue_folds=False)


@pytest.fixture
def memory_store() -> MemoryTimelineStore:
    return MemoryTimelineStore()


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The one chDB engine of the test process (other chDB users run in subprocesses)."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(
        interface="chdb", path=str(tmp_path_factory.mktemp("chdb"))
    )
    yield client
    client.close()


@pytest.fixture
async def clickhouse(chdb_client: Any) -> AsyncIterator[ClickHouse]:
    """A fresh, migrated database per test on the session's chDB engine."""
    database = f"wismo_test_{uuid.uuid4().hex[:12]}"
    ch = ClickHouse(chdb_client, database, target="chdb (tests)")
    await ch.run(migrate, chdb_client, database)
    try:
        yield ch
    finally:
        await ch.run(chdb_client.command, f"DROP DATABASE IF EXISTS {database}")
        await ch.close()


@pytest.fixture
def clickhouse_store(clickhouse: ClickHouse) -> ClickHouseStore:
    return ClickHouseStore(clickhouse)
