"""The shared poll token bucket against a real Redis: rate, burst, daily quota, several workers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.poll.bucket import PollBucket
from tests.projections.conftest import REDIS_URL, drop_prefix
from wismo.settings import CarrierCredentials

T = datetime(2026, 3, 2, 23, 59, 0, tzinfo=UTC)


async def test_a_burst_then_the_rate(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    bucket = PollBucket(redis_client, redis_prefix, {"ups": CarrierCredentials(rate_per_s=2)})
    assert [await bucket.acquire("ups", T) for _ in range(3)] == [0, 0, 0.5]
    assert await bucket.acquire("ups", T + timedelta(milliseconds=250)) == 0.25
    assert await bucket.acquire("ups", T + timedelta(milliseconds=500)) == 0


async def test_the_daily_quota_waits_for_midnight_utc(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    limits = {"dhl": CarrierCredentials(rate_per_s=100, daily_quota=2)}
    bucket = PollBucket(redis_client, redis_prefix, limits)
    assert await bucket.acquire("dhl", T) == 0
    assert await bucket.acquire("dhl", T) == 0
    assert await bucket.acquire("dhl", T) == 60.0  # T is one minute before midnight
    assert await bucket.acquire("dhl", T + timedelta(minutes=1)) == 0


async def test_workers_share_one_bucket(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    limits = {"usps": CarrierCredentials(rate_per_s=5)}
    workers = [PollBucket(redis_client, redis_prefix, limits) for _ in range(4)]
    waits = await asyncio.gather(*(w.acquire("usps", T) for w in workers for _ in range(5)))
    assert waits.count(0) == 5


schedules = st.lists(
    st.tuples(st.integers(0, 3000), st.integers(1, 4)), min_size=1, max_size=40
)  # (ms since the previous request, requests at that instant)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.1, 50),
    st.floats(0.1, 3),
    st.integers(0, 30),
    schedules,
    st.integers(0, 86_400_000),
)
def test_grants_never_exceed_the_rate_the_burst_or_the_quota(
    rate: float, burst_s: float, quota: int, schedule: list[tuple[int, int]], start_ms: int
) -> None:
    limits = {"fedex": CarrierCredentials(rate_per_s=rate, daily_quota=quota)}
    start = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(milliseconds=start_ms)

    async def run() -> None:
        prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            bucket = PollBucket(client, prefix, limits, burst_s=burst_s)
            burst = bucket.burst("fedex")
            now, granted, per_day = start, 0, dict[object, int]()
            for gap_ms, requests in schedule:
                now += timedelta(milliseconds=gap_ms)
                for _ in range(requests):
                    if await bucket.acquire("fedex", now) == 0:
                        granted += 1
                        per_day[now.date()] = per_day.get(now.date(), 0) + 1
                elapsed_s = (now - start).total_seconds()
                assert granted <= burst + rate * elapsed_s + 1e-9
                if quota:
                    assert max(per_day.values(), default=0) <= quota
        finally:
            await drop_prefix(client, prefix)
            await client.aclose()

    asyncio.run(run())
