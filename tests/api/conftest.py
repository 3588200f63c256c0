"""API fixtures: the real Tansu broker (one per session), the machine's Redis under a unique key
prefix per test, unique topics per test, and an aiohttp test client on ``create_app``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr

from api.app import create_app
from cli.runtime.embedded import start_tansu
from projections.redis_store import RedisTimelineStore
from wismo.event_lines import read_event_lines
from wismo.events import Event
from wismo.settings import ApiSettings, KafkaSettings, RedisSettings, Settings
from wismo.topics import ensure_topics

REDIS_URL = os.environ.get("WISMO_REDIS_URL", "redis://127.0.0.1:6379/0")
SAMPLES = Path(__file__).parent / "samples"
EXAMPLE_ORDER = Path(__file__).parents[2] / "docs" / "examples" / "order-1001.jsonl"
SECRETS = {"aftership": "as-secret-1", "oms": "whsec_" + base64.b64encode(b"oms-key").decode()}
CUSTOMER_SECRET = "customer-token-secret-for-the-api-tests"
AGENT_SECRET = "agent-jwt-secret-for-the-api-tests-0123"
API_KEY = "integration-key-for-tests"

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    process, bootstrap = start_tansu()
    try:
        yield bootstrap
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_settings(broker: str, prefix: str, **api: Any) -> Settings:
    return Settings(
        kafka=KafkaSettings(bootstrap=broker, topic_prefix=prefix, partitions=1),
        redis=RedisSettings(url=REDIS_URL, key_prefix=prefix),
        api=ApiSettings(
            customer_token_secret=SecretStr(CUSTOMER_SECRET),
            agent_jwt_secret=SecretStr(AGENT_SECRET),
            api_keys=(SecretStr(API_KEY),),
            **api,
        ),
        webhook_secrets={name: (SecretStr(secret),) for name, secret in SECRETS.items()},
    )


@pytest.fixture
def prefix() -> str:
    return f"wismo-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def api_options() -> dict[str, Any]:
    """Overrides of the API settings; a test module or test redefines it to change limits."""
    return {}


@pytest.fixture
async def settings(broker: str, prefix: str, api_options: dict[str, Any]) -> Settings:
    settings = make_settings(broker, prefix, **api_options)
    await ensure_topics(settings)
    return settings


@pytest.fixture
async def client(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def read_topic(settings: Settings, logical: str) -> list[Any]:
    """Every message on one of the test's topics, up to the current end (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, group_id=None)
    await consumer.start()
    try:
        topic = settings.topic(logical)
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=5000)
            if not batch:
                raise AssertionError(f"{topic}: nothing more to read before the end offsets")
            for tp, messages in batch.items():
                records += messages
                if messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


def aftership_signature(body: bytes, secret: str = SECRETS["aftership"]) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def store(redis: aioredis.Redis, prefix: str) -> RedisTimelineStore:
    return RedisTimelineStore(redis, prefix, url=REDIS_URL)


def example_order(upto: int | None = None) -> list[Event]:
    """The documented example order ORD-1001 (its first ``upto`` events)."""
    events, problems = read_event_lines(io.BytesIO(EXAMPLE_ORDER.read_bytes()))
    assert not problems
    return events[:upto]


def agent_token(*roles: str, sub: str = "agent-7", secret: str = AGENT_SECRET) -> str:
    claims = {"sub": sub, "roles": list(roles), "exp": int(time.time()) + 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Wait until ``check()`` holds (for effects that travel through pub/sub)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def as_sent(case: Any) -> list[Any]:
    """Make a generated case what the HTTP client really sends; returns the checks to skip.

    Query values that are ``None`` or an empty object or list never reach the wire: they are
    dropped through the case, so schemathesis revalidates it and a "negative" case whose only
    violation vanished is judged as valid. The tests replace generated credentials with valid
    ones, so a case made negative by removing or mangling a header is not sent as generated:
    the checks that expect its rejection are skipped for it (every other check still runs).
    """
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.specs.openapi.checks import missing_required_header, negative_data_rejection

    if case.query:
        case.query = {k: v for k, v in case.query.items() if v is not None and v != {} and v != []}
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return [negative_data_rejection, missing_required_header]
    return []
