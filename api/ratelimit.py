"""Token buckets: ``rate`` tokens a second, at most ``burst`` saved up, one bucket per key.

Two kinds, for two jobs:

- :class:`RateLimiter` lives in one process, with no round trip on the hot path. It guards this
  process from a noisy webhook source (the fleet-wide limit is the per-process one times
  replicas) and from clients whose webhooks keep failing authentication. Its table of keys is
  bounded (``max_keys``; the least recently used bucket is forgotten first), so a sweep over
  client addresses cannot grow it without end.
- :class:`SharedLimiter` keeps its buckets in Redis, so every API process counts against the
  same numbers: order look-ups per order number and per client, public tracking reads per
  client. Each bucket is a small hash that expires once it would be full again, so Redis holds
  only the keys of clients and orders seen recently. Time is Redis's own clock, the same for
  every process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from wismo.ids import digest


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict, init=False)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one token for ``key``; returns 0 when allowed, else the seconds until a token."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class Limit:
    """One shared bucket: its kind (part of the key), rate per second and burst."""

    kind: str
    rate: float
    burst: int


# KEYS: the buckets; ARGV: cost, then rate and burst per key. Either every bucket has the tokens
# and all are taken, or none is and the answer is the longest wait. A negative cost gives tokens
# back (never above the burst). Returns the wait in seconds as text (0 = allowed).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local tokens, wait = {}, 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local have = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  have = math.min(burst, have + math.max(0, now - at) * rate)
  tokens[i] = have
  if cost > 0 and have < cost then
    wait = math.max(wait, (cost - have) / rate)
  end
end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local have = tokens[i]
  if wait == 0 then
    have = math.min(burst, have - cost)
  end
  redis.call('HSET', key, 'tokens', tostring(have), 'at', tostring(now))
  redis.call('EXPIRE', key, math.ceil((burst - have) / rate) + 1)
end
return tostring(wait)
"""


class SharedLimiter:
    """Token buckets in Redis under ``{prefix}:api:{limit}:{kind}:{digest of the key}``: one
    Redis Cluster hash tag for all, as one call may take from several buckets at once."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.prefix = f"{prefix}:api:{{limit}}"
        self._script = client.register_script(_TAKE)

    def key(self, limit: Limit, name: str) -> str:
        # names are client text (order numbers, addresses): hash them into a fixed-size key
        return f"{self.prefix}:{limit.kind}:{digest(limit.kind, name)}"

    async def _run(self, buckets: Sequence[tuple[Limit, str]], cost: float) -> float:
        keys = [self.key(limit, name) for limit, name in buckets]
        args: list[float] = [cost]
        for limit, _ in buckets:
            args += [limit.rate, limit.burst]
        return float(await self._script(keys=keys, args=args))

    async def take(self, *buckets: tuple[Limit, str]) -> float:
        """One token from every bucket, or from none: 0 when allowed, else seconds to wait."""
        return await self._run(buckets, 1.0)

    async def give_back(self, *buckets: tuple[Limit, str]) -> None:
        """Return a token taken by :meth:`take` (an attempt that turned out not to count)."""
        await self._run(buckets, -1.0)
