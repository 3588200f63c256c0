"""Which parcels were registered with the tracking aggregator: one Redis marker each.

Key: ``P:{poll}:registered:NUMBER`` holds the aggregator's tracker id (or ``pending`` while the
call is in flight) and expires after ``ttl_s``. :meth:`RegistrationMarks.claim` is ``SET NX``:
of two workers seeing the same shipment, one registers it; a failed call releases the claim so
the next timeline change tries again. The aggregators' own duplicate handling (AfterShip 4003,
EasyPost returning the existing tracker) covers a claim that expired or was lost.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.errors import StoreUnavailable

PENDING = "pending"


class RegistrationMarks:
    def __init__(
        self, client: aioredis.Redis, prefix: str, ttl_s: int, *, url: str = "redis"
    ) -> None:
        self.client = client
        self._root = f"{prefix}:{{poll}}:registered"
        self._ttl_s = ttl_s
        self._url = url

    def key(self, tracking_number: str) -> str:
        return f"{self._root}:{tracking_number}"

    async def claim(self, tracking_number: str) -> bool:
        """Whether this caller is the one to register ``tracking_number``."""
        try:
            done = await self.client.set(
                self.key(tracking_number), PENDING, nx=True, ex=self._ttl_s
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error
        return bool(done)

    async def done(self, tracking_number: str, tracker_id: str | None) -> None:
        await self.client.set(self.key(tracking_number), tracker_id or "registered", ex=self._ttl_s)

    async def release(self, tracking_number: str) -> None:
        await self.client.delete(self.key(tracking_number))

    async def tracker_id(self, tracking_number: str) -> str | None:
        value = await self.client.get(self.key(tracking_number))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return None if text == PENDING else text
