"""A token bucket per polled source in Redis, shared by every poll worker.

Key (hash-tagged like the poll index)::

    P:{poll}:bucket:SOURCE  hash  tokens, updated (epoch ms), day (UTC day number), used

One Lua script refills the bucket for the time elapsed (``rate_per_s``, holding at most
``burst`` tokens), then either takes a token — and counts it against the UTC day's
``daily_quota`` — or answers how long to wait: until a token has dripped in, or until the next
UTC midnight once the day's quota is spent. Being one script it is atomic, so however many
workers ask, the grants never exceed ``burst + rate_per_s * elapsed`` nor the quota.

A worker whose clock lags the stored ``updated`` refills nothing (time never runs backwards for
the bucket), so clock skew between workers can only slow polling down.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.due_index import to_score
from projections.errors import StoreUnavailable
from wismo.settings import CarrierCredentials

DAY_MS = 86_400_000

# KEYS: bucket; ARGV: now (ms), rate per ms, burst, daily quota (0: none). Returns the wait in ms
# (0: a token was taken). Numbers are stored with 17 significant digits: no drift.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local quota = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'day', 'used')
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
local day = math.floor(now / 86400000)
local used = tonumber(state[4]) or 0
if tonumber(state[3]) ~= day then used = 0 end
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
local wait = 0
if quota > 0 and used >= quota then
  wait = (day + 1) * 86400000 - now
elseif tokens >= 1 then
  tokens = tokens - 1
  used = used + 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'updated', string.format('%.17g', updated), 'day', day, 'used', used)
redis.call('PEXPIRE', KEYS[1], 2 * 86400000)
return wait
"""


class PollBucket:
    """Per-source rate limits and daily quotas (from ``settings.poll.carriers``) in Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        limits: Mapping[str, CarrierCredentials],
        *,
        burst_s: float = 1.0,
        url: str = "redis",
    ) -> None:
        self._root = f"{prefix}:{{poll}}:bucket"
        self._limits = dict(limits)
        self._burst_s = burst_s
        self._url = url
        self._acquire: Any = client.register_script(_ACQUIRE)

    def burst(self, source: str) -> float:
        """The most tokens the bucket holds: ``burst_s`` seconds of the rate, at least one."""
        return max(1.0, self._limits[source].rate_per_s * self._burst_s)

    async def acquire(self, source: str, now: datetime) -> float:
        """Take a token for one call to ``source``'s API: 0 when taken, otherwise the seconds
        to wait before asking again. ``KeyError`` for a source without limits."""
        limit = self._limits[source]
        args = [to_score(now), limit.rate_per_s / 1000, self.burst(source), limit.daily_quota]
        try:
            wait_ms = await self._acquire(keys=[f"{self._root}:{source}"], args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error
        return int(wait_ms) / 1000
