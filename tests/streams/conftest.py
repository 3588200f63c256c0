"""Fixtures shared by the stream tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.projections.conftest import REDIS_URL, drop_prefix


@pytest.fixture
async def redis() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client of the test Redis and a key prefix of the test's own, dropped afterwards."""
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client, prefix
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()
