"""``GET /v1/analytics/sla`` when this process does not hold ClickHouse: a 503 that says why,
never a second chDB engine fighting the warehouse for its path."""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from api.clickhouse import chdb_is_open
from wismo.settings import ApiSettings, ClickHouseSettings, RedisSettings, Settings

AGENT_SECRET = "analytics-tests-agent-secret-0123456789"


class _NoProducer:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("analytics never writes to the broker")

    async def stop(self) -> None:
        return None


def _settings(chdb: Path, prefix: str) -> Settings:
    return Settings(
        redis=RedisSettings(url="redis://127.0.0.1:6379/0", key_prefix=prefix),
        clickhouse=ClickHouseSettings(chdb_path=chdb),
        api=ApiSettings(agent_jwt_secret=SecretStr(AGENT_SECRET)),
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    redis = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    app = create_app(_settings(tmp_path / "chdb", prefix), redis=redis, producer=_NoProducer())
    try:
        async with TestClient(TestServer(app)) as client:
            yield client
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def _token() -> str:
    exp = datetime.now(UTC) + timedelta(minutes=5)
    return jwt.encode({"sub": "analyst", "roles": ["viewer"], "exp": exp}, AGENT_SECRET)


async def test_without_the_warehouse_in_this_process_the_answer_is_503_with_the_reason(
    client: TestClient[web.Request, web.Application], tmp_path: Path
) -> None:
    response = await client.get(
        "/v1/analytics/sla?from=2026-01-01&to=2026-01-31",
        headers={"Authorization": f"Bearer {_token()}"},
    )
    assert response.status == 503
    body = await response.json()
    assert "no process holds the chDB path" in body["reason"]
    assert response.headers["Retry-After"] == "30"
    assert not (tmp_path / "chdb" / "status").exists()  # it did not open chDB itself


async def test_an_agent_token_comes_before_anything_else(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/v1/analytics/sla?from=2026-01-01&to=2026-01-31")
    assert response.status == 401


def test_a_held_chdb_path_is_seen_as_open(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "unused")
    assert not chdb_is_open(settings)  # no status file at all
    status = tmp_path / "status"
    status.write_text("")
    assert not chdb_is_open(settings)  # a file nobody locks
    fd = os.open(status, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what the chDB engine holds
        assert chdb_is_open(settings)
    finally:
        os.close(fd)
    assert not chdb_is_open(settings)
