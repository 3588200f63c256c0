"""Forged webhooks cannot throttle a source's real traffic: authenticity is checked before the
source's rate limit, and refused deliveries are limited per client (behind a trusted proxy, per
forwarded client address), apart from the sources' own limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.api.conftest import Client
from tests.security.test_webhook_auth import _request

FLOOD = 600


@pytest.fixture
def api_options() -> dict[str, Any]:
    # the defaults for the limits under test; the test client's peer is a trusted proxy
    return {"trusted_proxies": ("127.0.0.1/32",)}


async def _flood(client: Client, source: str, count: int, forwarded: str) -> list[int]:
    raw, _ = _request(source)
    unsigned = {"Content-Type": "application/json", "X-Forwarded-For": forwarded}

    async def post() -> int:
        return (await client.post(f"/v1/webhooks/{source}", data=raw, headers=unsigned)).status

    statuses: list[int] = []
    for start in range(0, count, 50):
        statuses += await asyncio.gather(*(post() for _ in range(start, min(count, start + 50))))
    return statuses


async def test_a_flood_of_unsigned_posts_does_not_stop_a_signed_delivery(client: Client) -> None:
    started = time.monotonic()
    statuses = await _flood(client, "ups", FLOOD, "203.0.113.7")
    elapsed = time.monotonic() - started
    assert set(statuses) == {401, 429}
    # the client's failure burst (20) and what 1/s refilled meanwhile, then refused outright
    assert statuses.count(401) <= 20 + elapsed + 1
    raw, headers = _request("ups")
    genuine = await client.post(
        "/v1/webhooks/ups", data=raw, headers=headers | {"X-Forwarded-For": "203.0.113.7"}
    )
    assert genuine.status == 202, await genuine.text()


async def test_refused_deliveries_are_limited_per_client(client: Client) -> None:
    flood = await _flood(client, "dhl", 100, "198.51.100.1")
    assert flood[-1] == 429
    other_client = await _flood(client, "dhl", 1, "198.51.100.2")
    assert other_client == [401]  # a different client is judged on its own failures
    response = await client.post(
        "/v1/webhooks/dhl",
        data=b"{}",
        headers={"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.1"},
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert (await response.json())["error"] == "rate_limited"
