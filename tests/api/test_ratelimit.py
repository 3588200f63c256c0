"""The token buckets: never more than ``burst + rate * elapsed`` requests, a fair wait, a bounded
table per process, one count for every process in Redis; and who the client is behind a proxy."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from api.clients import ClientAddresses
from api.ratelimit import Limit, RateLimiter, SharedLimiter
from tests.api.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    rate=st.floats(0.1, 1000),
    burst=st.integers(1, 500),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
def test_never_more_than_the_burst_plus_the_rate(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = Clock()
    limiter = RateLimiter(rate, burst, clock=clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        wait = limiter.take("ups")
        if wait == 0:
            allowed += 1
        else:
            assert 0 < wait <= 1 / rate + 1e-9
    assert allowed <= burst + rate * clock.now + 1e-6


def test_waiting_as_told_is_enough_and_keys_are_independent() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("dhl") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("dhl")
    assert wait > 0
    assert limiter.take("ups") == 0  # another source has its own bucket
    clock.now += wait + 1e-9  # float rounding
    assert limiter.take("dhl") == 0


def test_the_table_of_keys_is_bounded_and_forgets_the_least_recent() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock, max_keys=100)
    for address in range(10_000):
        limiter.take(f"10.0.{address // 256}.{address % 256}")
    assert len(limiter) == 100
    assert limiter.take("10.0.39.15") > 0  # among the 100 most recent: still empty
    assert limiter.take("10.0.0.0") == 0  # forgotten long ago: a fresh bucket


@given(peer=st.ip_addresses(), hops=st.lists(st.ip_addresses(), max_size=4))
def test_forwarded_for_counts_only_behind_a_trusted_proxy(peer: object, hops: list[object]) -> None:
    header = [", ".join(str(hop) for hop in hops)] if hops else []
    assert ClientAddresses().client(str(peer), header) == str(peer)


def test_the_client_is_the_nearest_untrusted_forwarded_address() -> None:
    proxies = ClientAddresses.of(["10.0.0.0/8", "fd00::/8"])
    assert proxies.client("10.1.1.1", ["198.51.100.4, 203.0.113.9"]) == "203.0.113.9"
    # a client's own X-Forwarded-For entries sit left of what the proxies appended
    assert proxies.client("10.1.1.1", ["6.6.6.6", "203.0.113.9, 10.2.2.2"]) == "203.0.113.9"
    assert proxies.client("fd00::1", ["2001:db8::7"]) == "2001:db8::7"
    assert proxies.client("10.1.1.1", []) == "10.1.1.1"
    assert proxies.client("10.1.1.1", ["not-an-address"]) == "10.1.1.1"
    assert proxies.client("192.0.2.1", ["203.0.113.9"]) == "192.0.2.1"  # not a trusted peer
    assert proxies.client(None, ["203.0.113.9"]) == "unknown"


async def test_shared_buckets_are_one_count_for_every_process() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    limit = Limit("test", rate=0.01, burst=3)
    first, second = SharedLimiter(client, prefix), SharedLimiter(client, prefix)
    try:
        waits = [await (first, second)[i % 2].take((limit, "order 1")) for i in range(5)]
        assert waits[:3] == [0, 0, 0]
        assert all(wait > 1 for wait in waits[3:])
        # all or nothing: a refused take across two buckets takes from neither
        other = Limit("other", rate=0.01, burst=1)
        assert await first.take((other, "x"), (limit, "order 1")) > 0
        assert await first.take((other, "x")) == 0
        await second.give_back((limit, "order 1"))
        assert await first.take((limit, "order 1")) == 0
        ttl = await client.ttl(first.key(limit, "order 1"))
        assert 0 < ttl <= 301  # gone once it would be full again
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
