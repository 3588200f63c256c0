"""Which parcels are polled, when each is next due, and what its last poll found: Redis.

Keys (``P`` is the configured prefix; the ``{poll}`` hash tag keeps them on one Redis Cluster
slot, so each script below stays on one slot)::

    P:{poll}:due            sorted set  tracking number -> next poll, epoch ms (rounded up)
    P:{poll}:parcel:NUMBER  hash        source, order_id, status, edd, started_at (what the
                                        cadence reads), last_polled_at, next_poll_at,
                                        last_result, quiet_polls, digest, requested_at

A tracking number is the member: the console, the API and the sweeper name a parcel by its
number alone (two carriers never share one in practice; the source is in the hash).

* :meth:`PollIndex.schedule` records a parcel and polls it at ``at`` or earlier: the *earlier* of
  the stored and the new time wins (as in :class:`projections.due_index.DueIndex`), so a stale
  writer can only cause one poll too many.
* :meth:`PollIndex.take` leases due parcels (their score moves ``lease_s`` ahead, so another
  worker does not take them; a dead worker's parcels come back when the lease runs out).
* :meth:`PollIndex.complete` ends a lease with the poll's result and the next poll time (kept
  only if nobody asked for an earlier one meanwhile); :meth:`PollIndex.release` ends one
  without a poll (rate limited).
* :meth:`PollIndex.request_now` makes a known parcel due at once (a "re-check with carrier").
* :meth:`PollIndex.forget` drops a parcel (final status).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.due_index import TAKE_LEASED, from_score, to_score
from projections.errors import StoreUnavailable

NEW = "new"
NOTHING_NEW = "nothing_new"
ERROR_PREFIX = "error: "
#: a parcel no longer scheduled (too old) keeps its last result this long for the console
_UNSCHEDULED_TTL_S = 7 * 86400

# KEYS: due, parcel; ARGV: number, score, keep cadence ('1'/'0'), then field/value pairs
# (status and edd first: with keep cadence, a known parcel whose state is unchanged keeps its time)
_SCHEDULE = """
local known = redis.call('EXISTS', KEYS[2]) == 1
local changed = redis.call('HGET', KEYS[2], 'status') ~= ARGV[5]
  or redis.call('HGET', KEYS[2], 'edd') ~= ARGV[7]
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PERSIST', KEYS[2])
if known and ARGV[3] == '1' then
  if not changed then return 0 end
  redis.call('HSET', KEYS[2], 'quiet_polls', 0)
end
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
local stored = redis.call('HGET', KEYS[2], 'next_poll_at')
if not stored or tonumber(stored) > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[2], 'next_poll_at', ARGV[2])
end
return 1
"""

# KEYS: due, parcel; ARGV: number, lease score, next score ('' = none), unscheduled ttl,
# then field/value pairs; a field 'quiet_polls' with value '+1' increments
_COMPLETE = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
for i = 5, #ARGV, 2 do
  if ARGV[i] == 'quiet_polls' and ARGV[i + 1] == '+1' then
    redis.call('HINCRBY', KEYS[2], 'quiet_polls', 1)
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
local held = current and tonumber(current) == tonumber(ARGV[2])
if held then
  if ARGV[3] == '' then
    redis.call('ZREM', KEYS[1], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  end
elseif ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[1])
end
local next = redis.call('ZSCORE', KEYS[1], ARGV[1])
if next then
  redis.call('HSET', KEYS[2], 'next_poll_at', next)
  redis.call('PERSIST', KEYS[2])
else
  redis.call('HDEL', KEYS[2], 'next_poll_at')
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
end
if held then return 1 end
return 0
"""

# KEYS: due, parcel; ARGV: number, now (ms)
_REQUEST_NOW = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], 'requested_at', ARGV[2], 'next_poll_at', ARGV[2])
redis.call('PERSIST', KEYS[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class PolledParcel:
    """A parcel to poll and what its cadence reads (:mod:`projections.poll.cadence`)."""

    tracking_number: str
    source: str
    order_id: str | None = None
    status: str | None = None
    estimated_delivery: date | None = None
    started_at: datetime | None = None  # first scan, or shipped: polling stops max_age after


@dataclass(frozen=True, slots=True)
class PollInfo:
    """What the console and the API show of a polled parcel."""

    parcel: PolledParcel
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    last_result: str | None
    quiet_polls: int
    digest: str | None
    requested_at: datetime | None

    @property
    def tracking_number(self) -> str:
        return self.parcel.tracking_number


@dataclass(frozen=True, slots=True)
class PollLease:
    """A parcel taken for polling; ``score`` identifies this taking of it."""

    info: PollInfo
    score: int

    @property
    def parcel(self) -> PolledParcel:
        return self.info.parcel


class PollIndex:
    """The poll index on a Redis client the caller owns."""

    def __init__(
        self, client: aioredis.Redis, prefix: str = "wismo", *, url: str = "redis"
    ) -> None:
        self.client = client
        self._root = f"{prefix}:{{poll}}"
        self.due_key = f"{self._root}:due"
        self._url = url
        self._schedule: Any = client.register_script(_SCHEDULE)
        self._take: Any = client.register_script(TAKE_LEASED)
        self._complete: Any = client.register_script(_COMPLETE)
        self._request_now: Any = client.register_script(_REQUEST_NOW)

    def parcel_key(self, tracking_number: str) -> str:
        return f"{self._root}:parcel:{tracking_number}"

    async def schedule(
        self, parcel: PolledParcel, at: datetime, *, keep_cadence: bool = False
    ) -> bool:
        """Record ``parcel`` (its state replaces the stored one) and poll it at ``at`` or
        earlier; returns whether its time was set.

        ``keep_cadence``: a parcel already known whose status and estimated delivery are
        unchanged keeps its time (a timeline change that says nothing new of the parcel must
        not undo the slower cadence its quiet polls earned); a changed one starts afresh.
        """
        number = parcel.tracking_number
        fields = _parcel_fields(parcel)
        args = [number, to_score(at), "1" if keep_cadence else "0"]
        args += [x for pair in fields.items() for x in pair]
        done = await self._call(self._schedule, [self.due_key, self.parcel_key(number)], args)
        return bool(done)

    async def take(self, now: datetime, limit: int, lease_s: float) -> list[PollLease]:
        """Up to ``limit`` parcels due at ``now``, leased for ``lease_s`` seconds."""
        lease = to_score(now + timedelta(seconds=lease_s))
        taken = await self._call(self._take, [self.due_key], [to_score(now), limit, lease])
        numbers = [_text(member) for member in taken]
        infos = await self._infos(numbers)
        leases = []
        for number, info in zip(numbers, infos, strict=True):
            if info is None:  # forgotten between the two calls: nothing to poll
                await self.client.zrem(self.due_key, number)
            else:
                leases.append(PollLease(info, lease))
        return leases

    async def complete(
        self,
        lease: PollLease,
        *,
        polled_at: datetime,
        result: str,
        next_at: datetime | None,
        digest: str | None = None,
    ) -> bool:
        """End a lease: record the poll (``result`` is :data:`NEW`, :data:`NOTHING_NEW` or
        ``"error: …"``) and the next poll (``None``: none). A quiet poll counts one more, a new
        one resets the count, an error leaves it. Returns whether the lease was still held."""
        fields: dict[str, str] = {"last_polled_at": str(to_score(polled_at)), "last_result": result}
        if result == NEW:
            fields["quiet_polls"] = "0"
        elif result == NOTHING_NEW:
            fields["quiet_polls"] = "+1"
        if digest is not None:
            fields["digest"] = digest
        number = lease.parcel.tracking_number
        score = "" if next_at is None else str(to_score(next_at))
        args = [number, lease.score, score, _UNSCHEDULED_TTL_S]
        args += [x for pair in fields.items() for x in pair]
        held = await self._call(self._complete, [self.due_key, self.parcel_key(number)], args)
        return bool(held)

    async def release(self, lease: PollLease, at: datetime) -> bool:
        """End a lease without a poll (the source's rate limit said wait): due again at ``at``,
        or earlier if someone asked. Returns whether the lease was still held."""
        number = lease.parcel.tracking_number
        args = [number, lease.score, str(to_score(at)), _UNSCHEDULED_TTL_S]
        held = await self._call(self._complete, [self.due_key, self.parcel_key(number)], args)
        return bool(held)

    async def request_now(self, tracking_number: str, now: datetime) -> bool:
        """Poll a known parcel at once; ``False`` when the parcel is not polled."""
        keys = [self.due_key, self.parcel_key(tracking_number)]
        done = await self._call(self._request_now, keys, [tracking_number, to_score(now)])
        return bool(done)

    async def info(self, tracking_number: str) -> PollInfo | None:
        """What is known of a polled parcel, or ``None`` when it is not polled."""
        return (await self._infos([tracking_number]))[0]

    async def forget(self, tracking_number: str) -> None:
        """Stop polling a parcel and drop what is known of it."""
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(self.due_key, tracking_number)
                pipe.delete(self.parcel_key(tracking_number))
                await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error

    async def pending(self) -> int:
        """How many parcels are scheduled."""
        count: int = await self.client.zcard(self.due_key)
        return count

    async def _infos(self, numbers: list[str]) -> list[PollInfo | None]:
        if not numbers:
            return []
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for number in numbers:
                    pipe.hgetall(self.parcel_key(number))
                replies = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error
        return [
            _info(number, {_text(k): _text(v) for k, v in reply.items()}) if reply else None
            for number, reply in zip(numbers, replies, strict=True)
        ]

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error


def _parcel_fields(parcel: PolledParcel) -> dict[str, str]:
    return {  # status and edd first: the schedule script compares them by position
        "status": parcel.status or "",
        "edd": parcel.estimated_delivery.isoformat() if parcel.estimated_delivery else "",
        "source": parcel.source,
        "order_id": parcel.order_id or "",
        "started_at": str(to_score(parcel.started_at)) if parcel.started_at else "",
    }


def _info(number: str, fields: Mapping[str, str]) -> PollInfo:
    edd = fields.get("edd")
    parcel = PolledParcel(
        tracking_number=number,
        source=fields.get("source", ""),
        order_id=fields.get("order_id") or None,
        status=fields.get("status") or None,
        estimated_delivery=date.fromisoformat(edd) if edd else None,
        started_at=_instant(fields.get("started_at")),
    )
    return PollInfo(
        parcel=parcel,
        last_polled_at=_instant(fields.get("last_polled_at")),
        next_poll_at=_instant(fields.get("next_poll_at")),
        last_result=fields.get("last_result") or None,
        quiet_polls=int(fields.get("quiet_polls") or 0),
        digest=fields.get("digest") or None,
        requested_at=_instant(fields.get("requested_at")),
    )


def _instant(value: str | None) -> datetime | None:
    return from_score(float(value)) if value else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
