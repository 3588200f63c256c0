"""Webhook re-delivery detection: one Redis key per (source, delivery id), claimed with SET NX.

A claim starts ``pending`` with a short TTL and becomes ``done`` (kept ``ttl_s``) once the broker
acknowledged the write. A second delivery while the first is still pending is told to retry
shortly rather than "accepted": if the first write fails, its sender retries and nothing is lost.
A crash between claim and write leaves only a pending key that expires by itself.
"""

from __future__ import annotations

from enum import StrEnum

import redis.asyncio as aioredis

from wismo.ids import digest

_PENDING = b"pending"
_DONE = b"done"


class Claim(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    IN_FLIGHT = "in_flight"


class DeliveryLedger:
    def __init__(
        self, client: aioredis.Redis, prefix: str, *, ttl_s: int, pending_ttl_s: int = 30
    ) -> None:
        self.client = client
        self.prefix = f"{prefix}:api:delivery"
        self.ttl_s = ttl_s
        self.pending_ttl_s = pending_ttl_s

    def key(self, source: str, delivery_id: str) -> str:
        # delivery ids are sender-controlled text of any length: hash them into a fixed key
        return f"{self.prefix}:{source}:{digest(source, delivery_id)}"

    async def claim(self, source: str, delivery_id: str) -> Claim:
        key = self.key(source, delivery_id)
        if await self.client.set(key, _PENDING, nx=True, ex=self.pending_ttl_s):
            return Claim.NEW
        state = await self.client.get(key)
        return Claim.DUPLICATE if state == _DONE else Claim.IN_FLIGHT

    async def done(self, source: str, delivery_id: str) -> None:
        await self.client.set(self.key(source, delivery_id), _DONE, ex=self.ttl_s)

    async def release(self, source: str, delivery_id: str) -> None:
        await self.client.delete(self.key(source, delivery_id))
