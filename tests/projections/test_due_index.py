"""The due-time index against a real Redis: scheduling, taking with leases, completing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from projections.due_index import DueIndex, from_score, to_score
from tests.projections.conftest import REDIS_URL

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
LEASE_S = 30.0


def test_scores_round_up_to_the_millisecond() -> None:
    exact = T + timedelta(milliseconds=5)
    assert from_score(to_score(exact)) == exact
    assert from_score(to_score(exact + timedelta(microseconds=1))) == exact + MS


async def test_an_order_is_taken_when_due_and_not_before(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = DueIndex(redis_client, redis_prefix)
    await index.schedule("O1", T)
    await index.schedule("O2", T + timedelta(hours=1))
    assert await index.take(T - MS, 10, LEASE_S) == []
    (lease,) = await index.take(T, 10, LEASE_S)
    assert lease.order_id == "O1"
    assert await index.due_at("O1") == T + timedelta(seconds=LEASE_S)
    assert await index.pending() == 2


async def test_a_leased_order_is_invisible_until_the_lease_runs_out(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = DueIndex(redis_client, redis_prefix)
    await index.schedule("O1", T)
    assert len(await index.take(T, 10, LEASE_S)) == 1
    assert await index.take(T + timedelta(seconds=LEASE_S) - MS, 10, LEASE_S) == []
    # the sweeper that took it died: the order comes back
    (again,) = await index.take(T + timedelta(seconds=LEASE_S), 10, LEASE_S)
    assert again.order_id == "O1"


async def test_the_earlier_schedule_wins(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = DueIndex(redis_client, redis_prefix)
    await index.schedule("O1", T + timedelta(hours=5))
    await index.schedule("O1", T + timedelta(hours=2))
    await index.schedule("O1", T + timedelta(hours=9))
    await index.schedule("O1", None)
    assert await index.due_at("O1") == T + timedelta(hours=2)
    await index.schedule_many({"O2": T, "O3": None})
    assert (await index.due_at("O2"), await index.due_at("O3")) == (T, None)


async def test_complete_sets_the_next_check_or_forgets_the_order(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = DueIndex(redis_client, redis_prefix)
    await index.schedule_many({"O1": T, "O2": T})
    first, second = sorted(await index.take(T, 10, LEASE_S), key=lambda lease: lease.order_id)
    later = T + timedelta(days=2)  # later than the lease: the lease holder's word is final
    assert await index.complete(first, later)
    assert await index.due_at("O1") == later
    assert await index.complete(second, None)
    assert await index.due_at("O2") is None
    assert await index.pending() == 1


async def test_a_schedule_during_the_lease_is_not_lost(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = DueIndex(redis_client, redis_prefix)
    await index.schedule("O1", T)
    (lease,) = await index.take(T, 10, LEASE_S)
    # the event path saw a newer timeline meanwhile and wants a check in 10 s
    await index.schedule("O1", T + timedelta(seconds=10))
    assert not await index.complete(lease, T + timedelta(days=2))
    assert await index.due_at("O1") == T + timedelta(seconds=10)
    # and with nothing left to wait for, the newer schedule still stands
    (lease,) = await index.take(T + timedelta(seconds=10), 10, LEASE_S)
    await index.schedule("O1", T + timedelta(seconds=20))
    assert not await index.complete(lease, None)
    assert await index.due_at("O1") == T + timedelta(seconds=20)


async def test_concurrent_sweepers_never_take_the_same_order(redis_prefix: str) -> None:
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(3)]
    try:
        indexes = [DueIndex(client, redis_prefix) for client in clients]
        orders = {f"O{n}": T + timedelta(seconds=n % 50) for n in range(600)}
        await indexes[0].schedule_many(orders)
        now = T + timedelta(minutes=1)

        async def sweeper(index: DueIndex) -> list[str]:
            taken: list[str] = []
            while leases := await index.take(now, 7, LEASE_S):
                taken += [lease.order_id for lease in leases]
                await asyncio.sleep(0)
            return taken

        results = await asyncio.gather(*(sweeper(index) for index in indexes))
        everything = [order_id for taken in results for order_id in taken]
        assert sorted(everything) == sorted(orders)
        assert all(results), "every sweeper got a share"
    finally:
        await clients[0].delete(indexes[0].key)
        for client in clients:
            await client.aclose()
