"""Webhook subscriptions, delivery logs and per-order preferences in real Redis."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from projections.notify.model import NotifyChannel, SubscriptionFilters
from projections.notify.subscriptions import (
    PreferenceStore,
    SubscriptionStore,
    known_event_type,
    mask_recipient,
    new_secret,
    normalize_recipient,
    preference_key,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def subs(redis_client: aioredis.Redis, redis_prefix: str) -> SubscriptionStore:
    return SubscriptionStore(redis_client, redis_prefix, log_cap=5)


@pytest.fixture
def prefs(redis_client: aioredis.Redis, redis_prefix: str) -> PreferenceStore:
    return PreferenceStore(redis_client, redis_prefix)


def test_a_new_secret_is_standard_webhooks_shaped() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_event_types_and_family_wildcards() -> None:
    assert known_event_type("order.status_changed")
    assert known_event_type("return.*")
    assert known_event_type("exception.*")
    assert not known_event_type("nothing.*")
    assert not known_event_type("order.deleted")
    assert known_event_type("*")
    assert not known_event_type("**")


async def test_create_get_and_list(subs: SubscriptionStore, redis_client: aioredis.Redis) -> None:
    first = await subs.create(
        "https://example.com/hook", ["shipment.milestone", "shipment.milestone"], now=NOW
    )
    assert first.id.startswith("sub_")
    assert first.event_types == ("shipment.milestone",)
    assert len(first.secrets) == 1
    assert first.secrets[0].startswith("whsec_")
    second = await subs.create(
        "https://example.org/in",
        ["return.*"],
        {"carriers": ["ups"]},
        secrets=["whsec_" + base64.b64encode(b"k" * 24).decode()],
        description="returns desk",
        max_concurrency=2,
        now=NOW + timedelta(seconds=1),
    )
    assert second.filters == SubscriptionFilters(carriers=("ups",))
    assert second.max_concurrency == 2
    assert await subs.get(first.id) == first
    assert [s.id for s in await subs.all()] == [first.id, second.id]
    assert await subs.get("sub_missing") is None
    keys = [k.decode() async for k in redis_client.scan_iter(match=f"{subs.key.split(':')[0]}:*")]
    assert keys
    assert all(k.startswith(subs.key.split("{notify}")[0] + "{notify}:") for k in keys)


async def test_update_pause_resume_disable(subs: SubscriptionStore) -> None:
    sub = await subs.create("https://example.com/a", ["refund.issued"], now=NOW)
    later = NOW + timedelta(minutes=1)
    updated = await subs.update(
        sub.id, now=later, url="https://example.com/b", filters={"channels": ["b2c"]}
    )
    assert updated is not None
    assert updated.url == "https://example.com/b"
    assert updated.filters.channels == ("b2c",)
    assert updated.updated_at == later
    assert updated.secrets == sub.secrets
    with pytest.raises(ValueError, match="secrets"):
        await subs.update(sub.id, now=later, secrets=("x",))
    assert await subs.update("sub_none", now=later, url="https://x.test") is None

    paused = await subs.pause(sub.id, now=later)
    assert paused is not None
    assert paused.paused
    disabled = await subs.disable(sub.id, "HTTP 500 for 24 h", at=later)
    assert disabled is not None
    assert disabled.disabled_reason == "HTTP 500 for 24 h"
    assert disabled.disabled_at == later
    resumed = await subs.resume(sub.id, now=later)
    assert resumed is not None
    assert not resumed.paused
    assert resumed.disabled_reason is None
    assert resumed.disabled_at is None
    assert (await subs.get(sub.id)) == resumed


async def test_rotation_keeps_the_previous_secret_until_expired(subs: SubscriptionStore) -> None:
    sub = await subs.create("https://example.com/a", ["refund.issued"], now=NOW)
    rotated = await subs.rotate(sub.id, now=NOW)
    assert rotated is not None
    after, secret = rotated
    assert after.secrets == (secret, sub.secrets[0])
    again = await subs.rotate(sub.id, now=NOW)
    assert again is not None
    assert again[0].secrets == (again[1], secret)
    expired = await subs.expire_old(sub.id, now=NOW)
    assert expired is not None
    assert expired.secrets == (again[1],)
    assert await subs.rotate("sub_none", now=NOW) is None


async def test_rotation_with_a_time_retires_the_previous_secret_then(
    subs: SubscriptionStore,
) -> None:
    sub = await subs.create("https://example.com/a", ["refund.issued"], now=NOW)
    rotated = await subs.rotate(sub.id, now=NOW, keep_old_for=timedelta(hours=1))
    assert rotated is not None
    _, secret = rotated
    during = await subs.get(sub.id, now=NOW + timedelta(minutes=59))
    assert during is not None
    assert during.secrets == (secret, sub.secrets[0])
    after = await subs.get(sub.id, now=NOW + timedelta(hours=1))
    assert after is not None
    assert after.secrets == (secret,)
    listed = await subs.all(now=NOW + timedelta(hours=2))
    assert listed[0].secrets == (secret,)
    assert (await subs.get(sub.id)) is not None


async def test_delivery_log_is_capped_newest_first(subs: SubscriptionStore) -> None:
    sub = await subs.create("https://example.com/a", ["refund.issued"], now=NOW)
    for attempt in range(1, 8):
        await subs.record_attempt(
            sub.id,
            {
                "message_id": "msg_1",
                "type": "refund.issued",
                "attempt": attempt,
                "status_code": 500 if attempt < 7 else 204,
                "latency_ms": 12.5,
                "error": None,
                "at": NOW + timedelta(seconds=attempt),
            },
        )
    log = await subs.attempts(sub.id, limit=10)
    assert [e["attempt"] for e in log] == [7, 6, 5, 4, 3]
    assert log[0]["status_code"] == 204
    assert log[0]["at"] == str(NOW + timedelta(seconds=7))
    assert await subs.attempts(sub.id, limit=2) == log[:2]
    assert await subs.attempts(sub.id, limit=0) == []
    assert await subs.delete(sub.id)
    assert not await subs.delete(sub.id)
    assert await subs.get(sub.id) is None
    assert await subs.attempts(sub.id) == []


async def test_preferences(prefs: PreferenceStore) -> None:
    assert (await prefs.get("o-1")).choices == {}
    key = await prefs.set("o-1", NotifyChannel.EMAIL, " Ada@Example.COM ", True)
    assert key == "email:ada@example.com"
    await prefs.set("o-1", "sms", "+1 (555) 123-4567", False)
    got = await prefs.get("o-1")
    assert got.choices == {"email:ada@example.com": True, "sms:+15551234567": False}
    assert got.says(NotifyChannel.EMAIL, "ADA@example.com") is True
    assert got.says(NotifyChannel.SMS, "+15551234567") is False
    await prefs.set("o-1", "email", "ada@example.com", False)
    assert (await prefs.get("o-1")).says(NotifyChannel.EMAIL, "ada@example.com") is False
    assert (await prefs.get("o-2")).choices == {}
    await prefs.forget("o-1")
    assert (await prefs.get("o-1")).choices == {}


@given(st.text(alphabet="0123456789 +-().", min_size=1, max_size=20))
def test_phone_forms_normalize_to_plus_digits(raw: str) -> None:
    value = normalize_recipient("sms", raw)
    assert (value.startswith("+") and value[1:].isdigit()) or value == "+"
    assert normalize_recipient("sms", value) == value
    assert preference_key("sms", raw) == f"sms:{value}"


def test_masked_recipients_keep_only_a_hint() -> None:
    assert mask_recipient("email", "ada@example.com") == "a***@example.com"
    assert mask_recipient(NotifyChannel.EMAIL, "nobody") == "***"
    assert mask_recipient("sms", "+1 555 123 4567") == "+*******4567"
    assert mask_recipient("webhook", "sub_1") == "sub_1"


async def test_preferences_expire_with_the_orders_retention(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    kept = PreferenceStore(redis_client, redis_prefix, retention_s=3600)
    await kept.set("o-9", "email", "ada@example.com", True)
    assert 3590 <= await redis_client.ttl(kept.key("o-9")) <= 3600
    forever = PreferenceStore(redis_client, redis_prefix)
    await forever.set("o-10", "email", "ada@example.com", True)
    assert await redis_client.ttl(forever.key("o-10")) == -1
