"""Per-order contacts in a real Redis: later events win field by field, partial changes merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from projections.notify.contacts import ContactStore
from projections.notify.model import Contacts

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


async def test_later_events_win_and_partial_changes_merge(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = ContactStore(redis_client, redis_prefix)
    assert await store.get("O1") == Contacts()
    placed = Contacts(email="ann@example.com", phone="+4915112345678", locale="de-DE")
    assert await store.record("O1", placed, T) == 3
    # a change that arrives first but happened later, then one that happened earlier
    assert await store.record("O1", Contacts(email="ann@new.example"), T + 2 * H) == 1
    assert await store.record("O1", Contacts(email="old@example.com", time_zone="UTC"), T + H) == 1
    assert await store.get("O1") == Contacts(
        email="ann@new.example", phone="+4915112345678", locale="de-DE", time_zone="UTC"
    )
    assert await store.record("O1", Contacts(), T) == 0
    assert await store.get("O2") == Contacts()


async def test_contacts_expire_with_the_retention_and_can_be_forgotten(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = ContactStore(redis_client, redis_prefix, retention_s=600)
    await store.record("O1", Contacts(email="ann@example.com"), T)
    assert 0 < await redis_client.ttl(store.key("O1")) <= 600
    await store.forget("O1")
    assert await store.get("O1") == Contacts()
    forever = ContactStore(redis_client, redis_prefix)
    await forever.record("O2", Contacts(phone="+15005550006"), T)
    assert await redis_client.ttl(forever.key("O2")) == -1
