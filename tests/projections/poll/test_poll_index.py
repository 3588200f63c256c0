"""The poll index against a real Redis: scheduling, leases, results, re-check requests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import redis.asyncio as aioredis

from projections.poll.index import NEW, NOTHING_NEW, PolledParcel, PollIndex, PollInfo

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LEASE_S = 60.0
PARCEL = PolledParcel(
    "1Z999AA10123456784",
    "ups",
    order_id="O1",
    status="in_transit",
    estimated_delivery=date(2026, 3, 4),
    started_at=T - 5 * HOUR,
)


async def test_a_parcel_is_taken_when_due_with_its_state(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PollIndex(redis_client, redis_prefix)
    await index.schedule(PARCEL, T)
    assert await index.take(T - timedelta(milliseconds=1), 10, LEASE_S) == []
    (lease,) = await index.take(T, 10, LEASE_S)
    assert lease.parcel == PARCEL
    assert await index.take(T, 10, LEASE_S) == []  # leased: invisible to another worker
    (again,) = await index.take(T + timedelta(seconds=LEASE_S), 10, LEASE_S)
    assert again.parcel.tracking_number == PARCEL.tracking_number


async def test_the_earlier_schedule_wins(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = PollIndex(redis_client, redis_prefix)
    await index.schedule(PARCEL, T + 2 * HOUR)
    await index.schedule(PARCEL, T + HOUR)
    await index.schedule(PARCEL, T + 3 * HOUR)
    info = await index.info(PARCEL.tracking_number)
    assert info is not None
    assert info.next_poll_at == T + HOUR


async def test_complete_records_the_result_and_counts_quiet_polls(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PollIndex(redis_client, redis_prefix)
    number = PARCEL.tracking_number
    await index.schedule(PARCEL, T)
    for round_, result in enumerate((NOTHING_NEW, NOTHING_NEW, "error: HTTP 503")):
        now = T + round_ * HOUR
        (lease,) = await index.take(now, 10, LEASE_S)
        assert await index.complete(
            lease, polled_at=now, result=result, next_at=now + HOUR, digest="d1"
        )
    info = await index.info(number)
    assert info is not None
    assert (info.last_result, info.quiet_polls, info.digest) == ("error: HTTP 503", 2, "d1")
    assert (info.last_polled_at, info.next_poll_at) == (T + 2 * HOUR, T + 3 * HOUR)
    (lease,) = await index.take(T + 3 * HOUR, 10, LEASE_S)
    await index.complete(lease, polled_at=T + 3 * HOUR, result=NEW, next_at=T + 4 * HOUR)
    info = await index.info(number)
    assert info is not None
    assert info.quiet_polls == 0


async def test_an_earlier_request_during_a_lease_survives_its_completion(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PollIndex(redis_client, redis_prefix)
    await index.schedule(PARCEL, T)
    (lease,) = await index.take(T, 10, LEASE_S)
    assert await index.request_now(PARCEL.tracking_number, T + timedelta(seconds=1))
    held = await index.complete(lease, polled_at=T, result=NOTHING_NEW, next_at=T + 4 * HOUR)
    assert not held
    info = await index.info(PARCEL.tracking_number)
    assert info is not None
    assert info.next_poll_at == info.requested_at == T + timedelta(seconds=1)


async def test_request_now_makes_a_known_parcel_due_and_refuses_an_unknown_one(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PollIndex(redis_client, redis_prefix)
    assert not await index.request_now("UNKNOWN", T)
    await index.schedule(PARCEL, T + 4 * HOUR)
    assert await index.request_now(PARCEL.tracking_number, T)
    (lease,) = await index.take(T, 10, LEASE_S)
    assert lease.info.requested_at == T


async def test_no_next_poll_unschedules_but_keeps_the_last_result(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PollIndex(redis_client, redis_prefix)
    await index.schedule(PARCEL, T)
    (lease,) = await index.take(T, 10, LEASE_S)
    await index.complete(lease, polled_at=T, result=NEW, next_at=None)
    assert await index.pending() == 0
    info = await index.info(PARCEL.tracking_number)
    assert info is not None
    assert info.next_poll_at is None
    assert info.last_result == NEW
    ttl = await redis_client.ttl(index.parcel_key(PARCEL.tracking_number))
    assert ttl > 0


async def test_forget_drops_the_parcel(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = PollIndex(redis_client, redis_prefix)
    await index.schedule(PARCEL, T)
    (lease,) = await index.take(T, 10, LEASE_S)
    await index.forget(PARCEL.tracking_number)
    assert await index.info(PARCEL.tracking_number) is None
    assert not await index.request_now(PARCEL.tracking_number, T)
    assert not await index.complete(lease, polled_at=T, result=NEW, next_at=T + HOUR)
    assert await index.pending() == 0


async def test_keep_cadence_moves_a_known_parcel_only_when_its_state_changed(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PollIndex(redis_client, redis_prefix)
    number = PARCEL.tracking_number
    assert await index.schedule(PARCEL, T + 16 * HOUR, keep_cadence=True)  # new: scheduled
    (lease,) = await index.take(T + 16 * HOUR, 10, LEASE_S)
    await index.complete(lease, polled_at=T, result=NOTHING_NEW, next_at=T + 32 * HOUR)
    assert not await index.schedule(PARCEL, T + 20 * HOUR, keep_cadence=True)
    assert (await _info(index, number)).next_poll_at == T + 32 * HOUR
    moved = dataclasses.replace(PARCEL, status="out_for_delivery")
    assert await index.schedule(moved, T + 20 * HOUR, keep_cadence=True)
    info = await _info(index, number)
    assert (info.next_poll_at, info.quiet_polls, info.parcel.status) == (
        T + 20 * HOUR,
        0,
        "out_for_delivery",
    )


async def _info(index: PollIndex, number: str) -> PollInfo:
    info = await index.info(number)
    assert info is not None
    return info
