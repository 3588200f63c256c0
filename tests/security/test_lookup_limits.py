"""Guess limits that hold behind a proxy and across API processes: look-ups are counted per order
number and per client (the client named by a *trusted* proxy's ``X-Forwarded-For`` only), in
Redis, so a second API process shares the counts; public tracking reads are limited per client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client
from tests.security.test_access import _orders
from wismo.settings import Settings

ORDER_BURST = 4
CLIENT_BURST = 6


@pytest.fixture
def api_options() -> dict[str, Any]:
    return {
        "trusted_proxies": ("127.0.0.0/8",),
        "lookup_order_burst": ORDER_BURST,
        "lookup_order_per_hour": 1.0,
        "lookup_client_burst": CLIENT_BURST,
        "lookup_client_rate_per_s": 0.01,
        "tracking_client_burst": CLIENT_BURST,
        "tracking_client_rate_per_s": 0.01,
    }


@pytest.fixture
async def second_process(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Client]:
    """Another API process on the same Redis (its own in-process state)."""
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def _lookup(client: Client, number: str, postcode: str, forwarded: str) -> int:
    response = await client.post(
        "/v1/lookup",
        json={"order_number": number, "postcode": postcode},
        headers={"X-Forwarded-For": forwarded},
    )
    if response.status == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status


async def test_guesses_at_one_order_are_limited_whatever_the_client(
    client: Client, second_process: Client, store: RedisTimelineStore
) -> None:
    await _orders(store)
    # five addresses, two processes: still one allowance of guesses for order 100001
    guesses = [
        await _lookup(
            (client, second_process)[i % 2], "100001", f"ZZ{i} 9ZZ", f"198.51.100.{i % 5}"
        )
        for i in range(ORDER_BURST + 3)
    ]
    assert guesses == [404] * ORDER_BURST + [429] * 3
    # the order's own customer now waits too (or the limit would mean nothing) ...
    right = await client.post(
        "/v1/lookup",
        json={"order_number": "100001", "email": "customer1@example.com"},
        headers={"X-Forwarded-For": "203.0.113.50"},
    )
    assert right.status == 429
    # ... while another order is untouched
    other = await client.post(
        "/v1/lookup",
        json={"order_number": "100002", "email": "customer2@example.com"},
        headers={"X-Forwarded-For": "203.0.113.50"},
    )
    assert other.status == 200


async def test_successful_look_ups_do_not_use_up_the_order_allowance(
    client: Client, store: RedisTimelineStore
) -> None:
    await _orders(store)
    found = [
        (
            await client.post(
                "/v1/lookup",
                json={"order_number": "100003", "email": "customer3@example.com"},
                headers={"X-Forwarded-For": f"192.0.2.{i}"},
            )
        ).status
        for i in range(ORDER_BURST * 2)
    ]
    assert found == [200] * (ORDER_BURST * 2)


async def test_each_client_behind_the_proxy_has_its_own_allowance_shared_by_processes(
    client: Client, second_process: Client, store: RedisTimelineStore
) -> None:
    await _orders(store)
    one = [
        await _lookup((client, second_process)[i % 2], f"9{i:05}", "AB1 2CD", "203.0.113.9")
        for i in range(CLIENT_BURST + 2)
    ]
    assert one == [404] * CLIENT_BURST + [429] * 2
    assert await _lookup(client, "955555", "AB1 2CD", "203.0.113.10") == 404


@pytest.mark.parametrize("api_options", [{"lookup_client_burst": 3}])
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    client: Client, store: RedisTimelineStore
) -> None:
    await _orders(store)
    # no trusted proxies configured: a client naming a new address each time gains nothing
    statuses = [await _lookup(client, f"8{i:05}", "AB1 2CD", f"203.0.113.{i}") for i in range(5)]
    assert statuses == [404, 404, 404, 429, 429]


async def test_public_tracking_reads_are_limited_per_client(
    client: Client, second_process: Client
) -> None:
    statuses = [
        (
            await (client, second_process)[i % 2].get(
                f"/v1/tracking/1Z{i:016}", headers={"X-Forwarded-For": "203.0.113.77"}
            )
        ).status
        for i in range(CLIENT_BURST + 2)
    ]
    assert statuses == [404] * CLIENT_BURST + [429] * 2
    other = await client.get("/v1/tracking/1Z0", headers={"X-Forwarded-For": "203.0.113.78"})
    assert other.status == 404
