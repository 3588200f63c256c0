"""The customer read path's caches: encoded views kept current by the change feed (against the
real store publishing on the real Redis), verified capability tokens whose expiry is checked at
every request, and batched timeline reads."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from api.auth import CapabilityTokens, issue_customer_token
from api.errors import Forbidden, Unauthorized
from api.keys import CAPABILITIES, CHANGES, ORDER_CACHE
from api.order_cache import EncodedAnswer, OrderCache
from api.timeline_reads import TimelineReads
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import CUSTOMER_SECRET, REDIS_URL, Client, eventually, example_order
from tests.projections.synthetic import order_history
from wismo.settings import Settings

ORDER = "ORD-1001"
SECRET = SecretStr(CUSTOMER_SECRET)


def _token(order_id: str = ORDER, now: datetime | None = None, ttl_s: int = 600) -> str:
    return issue_customer_token(SECRET, order_id, now or datetime.now(UTC), ttl_s)


async def _read(client: Client, token: str, order_id: str = ORDER) -> tuple[int, Any]:
    response = await client.get(f"/v1/orders/{order_id}", params={"token": token})
    body = await response.read()
    return response.status, orjson.loads(body) if body else None


async def _live(client: Client) -> None:
    feed = client.app[CHANGES]

    async def live() -> bool:
        return feed.live

    await eventually(live)


async def test_a_read_after_a_change_returns_the_new_version(
    client: Client, store: RedisTimelineStore
) -> None:
    events = example_order()
    await store.apply(events[:20])
    await _live(client)
    views, token = client.app[ORDER_CACHE], _token()
    status, first = await _read(client, token)
    assert status == 200
    assert ORDER in views  # kept, encoded
    hits = views.hits
    assert await _read(client, token) == (200, first)
    assert views.hits == hits + 1
    await store.apply(events)  # the real commit script publishes the change summary

    async def dropped() -> bool:
        return ORDER not in views

    await eventually(dropped)
    status, after = await _read(client, token)
    assert status == 200
    assert after["version"] == len(events) > first["version"]
    assert ORDER in views  # the new version is kept in turn


async def test_with_the_feed_down_reads_go_to_redis(
    client: Client, store: RedisTimelineStore
) -> None:
    events = example_order()
    await store.apply(events[:20])
    await _live(client)
    views, token = client.app[ORDER_CACHE], _token()
    assert (await _read(client, token))[0] == 200
    assert ORDER in views
    await client.app[CHANGES].close()  # nobody hears changes any more
    assert not client.app[CHANGES].live
    assert len(views) == 0
    await store.apply(events)  # published to nobody
    status, view = await _read(client, token)  # at once: no delivery delay to wait for
    assert status == 200
    assert view["version"] == len(events)
    assert len(views) == 0  # nothing is kept while the feed is down


@pytest.fixture
async def named_client(prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client whose connections carry a name, so the test can find (and kill) its own."""
    client = aioredis.Redis.from_url(REDIS_URL, client_name=prefix)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_lost_feed_connection_resets_the_cache(
    settings: Settings,
    store: RedisTimelineStore,
    named_client: aioredis.Redis,
    redis: aioredis.Redis,
    prefix: str,
) -> None:
    events = example_order()
    await store.apply(events[:20])
    async with TestClient(TestServer(create_app(settings, redis=named_client))) as client:
        await _live(client)
        views, token = client.app[ORDER_CACHE], _token()
        assert (await _read(client, token))[0] == 200
        assert ORDER in views
        resets = views.epoch
        subscribers = [
            c for c in await redis.client_list(_type="pubsub") if c.get("name") == prefix
        ]
        assert len(subscribers) == 1
        await redis.client_kill_filter(_id=subscribers[0]["id"])
        await store.apply(events)  # may land before the feed is back: then it is never heard

        async def recovered() -> bool:
            return views.epoch > resets and client.app[CHANGES].live

        await eventually(recovered)
        assert ORDER not in views
        status, view = await _read(client, token)
        assert status == 200
        assert view["version"] == len(events)


async def test_the_token_cache_checks_expiry_against_the_app_clock(
    settings: Settings, store: RedisTimelineStore
) -> None:
    await store.apply([*example_order(), *order_history(5, random.Random(3))])
    issued = datetime.now(UTC)
    clock = [issued]
    app = create_app(settings, clock=lambda: clock[0])
    async with TestClient(TestServer(app)) as client:
        tokens = app[CAPABILITIES]
        token, other = _token(now=issued, ttl_s=60), _token("ORD-5", now=issued, ttl_s=60)
        assert (await _read(client, token))[0] == 200
        assert (await _read(client, token))[0] == 200
        assert token in tokens
        assert (await _read(client, other, "ORD-5"))[0] == 200
        status, body = await _read(client, other)  # a cached token for another order
        assert (status, body["error"]) == (403, "forbidden")
        clock[0] = issued + timedelta(seconds=59)
        assert (await _read(client, token))[0] == 200
        clock[0] = issued + timedelta(seconds=60)
        status, body = await _read(client, token)
        assert (status, body["error"]) == (401, "unauthorized")
        assert "expired" in body["reason"]
        assert token not in tokens
        assert (await _read(client, token))[0] == 401  # and stays refused


def test_capability_tokens_keep_only_good_tokens_and_a_bounded_number() -> None:
    now = datetime.now(UTC)
    tokens = CapabilityTokens(SECRET, size=2)
    issued = [_token(f"ORD-{n}", now) for n in range(3)]
    for n, token in enumerate(issued):
        assert tokens.order(token, now) == f"ORD-{n}"
    assert len(tokens) == 2
    assert issued[0] not in tokens  # the least recently used went
    assert tokens.order(issued[0], now) == "ORD-0"  # and is simply verified again
    header, claims, signature = issued[1].split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    bad = {
        "tampered": f"{header}.{claims}.{flipped}",
        "expired": _token(now=now - timedelta(hours=1), ttl_s=60),
        "foreign": issue_customer_token(SecretStr("another-" + CUSTOMER_SECRET), ORDER, now, 60),
    }
    for token in bad.values():
        with pytest.raises(Unauthorized):
            tokens.order(token, now)
        assert token not in tokens
    with pytest.raises(Unauthorized):
        tokens.order(None, now)
    with pytest.raises(Forbidden):
        tokens.authorize(issued[0], "ORD-1", now)
    none_kept = CapabilityTokens(SECRET, size=0)
    assert none_kept.order(issued[2], now) == "ORD-2"
    assert len(none_kept) == 0


def _view(version: int) -> EncodedAnswer:
    return EncodedAnswer.of(f'"{version}-d-customer"', b'{"version": %d}' % version, "private")


def test_a_fill_overtaken_by_a_change_or_a_reset_is_not_kept() -> None:
    live = [True]
    views = OrderCache(2, lambda: live[0])
    old = views.begin("A")
    views.invalidate("A")  # the change lands while Redis is being asked
    views.finish(old, _view(1))
    assert "A" not in views
    fresh = views.begin("A")
    views.finish(fresh, _view(2))
    assert views.get("A") == _view(2)
    # two readers: the one that began before the change must not overwrite the later one
    slow = views.begin("A")
    views.on_summary({"order_id": "A", "version": 3})
    assert "A" not in views
    quick = views.begin("A")
    views.finish(quick, _view(3))
    views.finish(slow, _view(2))
    assert views.get("A") == _view(3)
    before_reset = views.begin("B")
    views.reset()
    assert len(views) == 0
    views.finish(before_reset, _view(1))
    assert "B" not in views
    failed = views.begin("B")
    views.finish(failed, None)  # Redis failed: nothing to keep, nothing left in flight
    assert "B" not in views


def test_the_order_cache_is_bounded_and_bypassed_while_the_feed_is_not_live() -> None:
    live = [True]
    views = OrderCache(2, lambda: live[0])
    for order_id in ("A", "B"):
        views.finish(views.begin(order_id), _view(1))
    assert views.get("A") is not None  # A is now the most recently used
    views.finish(views.begin("C"), _view(1))
    assert ("A" in views, "B" in views, "C" in views) == (True, False, True)
    live[0] = False
    assert views.get("A") is None
    assert len(views) == 0
    assert views.begin("A") is None
    live[0] = True
    pending = views.begin("A")
    live[0] = False  # the feed went down while Redis was being asked
    views.finish(pending, _view(1))
    live[0] = True
    assert "A" not in views
    assert OrderCache(0, lambda: True).begin("A") is None


async def test_timeline_reads_batch_and_answer_like_the_store(store: RedisTimelineStore) -> None:
    rng = random.Random(11)
    await store.apply([event for index in range(6) for event in order_history(index, rng)])
    reads = TimelineReads(store)
    asked = [f"ORD-{n % 8}" for n in range(40)]  # ORD-6 and ORD-7 do not exist
    answers = await asyncio.gather(*(reads.timeline(order_id) for order_id in asked))
    expected = {o: await store.timeline(o) for o in set(asked)}
    assert answers == [expected[o] for o in asked]
    assert expected["ORD-6"] is None
    assert all(expected[f"ORD-{n}"] is not None for n in range(6))
