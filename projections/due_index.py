"""When each order must next be checked for clock-driven exceptions: a Redis sorted set.

Key (``P`` is the configured prefix; the ``{exceptions}`` hash tag keeps it on one Redis Cluster
slot, so the scripts below touch one key)::

    P:{exceptions}:due    sorted set  order id -> next check, in epoch milliseconds (rounded up,
                                      so an order is never taken before its deadline)

* :meth:`DueIndex.schedule` is what the event path calls after a timeline changed: the *earlier*
  of the stored and the new time wins, so a stale writer can only cause one check too many,
  never one too few.
* :meth:`DueIndex.take` atomically takes up to ``limit`` due orders and pushes each one's score
  ``lease_s`` into the future: a concurrent sweeper does not see them, and if this one dies the
  orders come back when the lease runs out (checking an order twice is harmless: the lifecycle
  events have deterministic ids).
* :meth:`DueIndex.complete` ends a lease with the order's next check (or removes it when there is
  nothing left to wait for). If someone scheduled the order while it was leased, the earlier of
  the two times is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.errors import StoreUnavailable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

#: take up to ``limit`` members due by ``now`` and lease them (their score moves to the lease's
#: end); the one lease script of every due set (exceptions, polls, notifications).
#: KEYS: due; ARGV: now, limit, lease score
TAKE_LEASED = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], member)
end
return due
"""

# KEYS: due; ARGV: order id, lease score, next score ('' = nothing to wait for)
_COMPLETE = """
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current and tonumber(current) == tonumber(ARGV[2]) then
  if ARGV[3] == '' then
    redis.call('ZREM', KEYS[1], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  end
  return 1
end
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[1]) end
return 0
"""


def to_score(at: datetime) -> int:
    """Epoch milliseconds, rounded up."""
    whole, rest = divmod(at - _EPOCH, _MS)
    return whole + (1 if rest else 0)


def from_score(score: float) -> datetime:
    return _EPOCH + _MS * int(score)


@dataclass(frozen=True, slots=True)
class Lease:
    """An order taken for checking; ``score`` identifies this taking of it."""

    order_id: str
    score: int


class DueIndex:
    """The due-time index on a Redis client the caller owns."""

    def __init__(
        self, client: aioredis.Redis, prefix: str = "wismo", *, url: str = "redis"
    ) -> None:
        self.client = client
        self.key = f"{prefix}:{{exceptions}}:due"
        self._url = url
        self._take: Any = client.register_script(TAKE_LEASED)
        self._complete: Any = client.register_script(_COMPLETE)

    async def schedule(self, order_id: str, at: datetime | None) -> None:
        """Check ``order_id`` at ``at`` or earlier (``None`` says nothing new: no change)."""
        await self.schedule_many({order_id: at})

    async def schedule_many(self, schedule: Mapping[str, datetime | None]) -> None:
        wanted = {order_id: to_score(at) for order_id, at in schedule.items() if at is not None}
        if not wanted:
            return
        try:
            await self.client.zadd(self.key, wanted, lt=True)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error

    async def take(self, now: datetime, limit: int, lease_s: float) -> list[Lease]:
        """Up to ``limit`` orders due at ``now``, leased for ``lease_s`` seconds."""
        lease = to_score(now + timedelta(seconds=lease_s))
        try:
            taken = await self._take(keys=[self.key], args=[to_score(now), limit, lease])
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error
        return [Lease(_text(order_id), lease) for order_id in taken]

    async def complete(self, lease: Lease, next_check: datetime | None) -> bool:
        """End a lease; returns whether it was still this lease's (nobody rescheduled meanwhile)."""
        score = "" if next_check is None else str(to_score(next_check))
        try:
            held = await self._complete(keys=[self.key], args=[lease.order_id, lease.score, score])
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error
        return bool(held)

    async def due_at(self, order_id: str) -> datetime | None:
        score = await self.client.zscore(self.key, order_id)
        return None if score is None else from_score(score)

    async def pending(self) -> int:
        """How many orders wait for a check."""
        count: int = await self.client.zcard(self.key)
        return count


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
