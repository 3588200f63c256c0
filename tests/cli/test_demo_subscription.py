"""``wismo up``'s development echo subscription keeps every event type: one made by an older
release (fewer types, another port) is brought up to date, not duplicated."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from cli.commands.up import DEMO_SUBSCRIPTION, _demo_subscription
from projections.notify.model import EVENT_TYPES
from projections.notify.subscriptions import SubscriptionStore
from tests.projections.conftest import REDIS_URL, drop_prefix
from wismo.settings import RedisSettings, Settings


@pytest.fixture
async def store() -> AsyncIterator[tuple[SubscriptionStore, Settings]]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield (
            SubscriptionStore(client, prefix),
            Settings(redis=RedisSettings(url=REDIS_URL, key_prefix=prefix)),
        )
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


async def test_an_older_demo_subscription_gets_the_new_event_types(
    store: tuple[SubscriptionStore, Settings],
) -> None:
    subscriptions, settings = store
    now = datetime.now(UTC)
    old = await subscriptions.create(
        "http://127.0.0.1:9/echo/demo", EVENT_TYPES[:10], description=DEMO_SUBSCRIPTION, now=now
    )
    url = "http://127.0.0.1:10/echo/demo"
    assert await _demo_subscription(settings, url) == old.id
    (sub,) = await subscriptions.all(now=now)
    assert sub.event_types == EVENT_TYPES
    assert "cancel.requested" in sub.event_types
    assert sub.url == url
    assert await _demo_subscription(settings, url) == old.id  # nothing left to change
