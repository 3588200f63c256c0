"""The link agent's own state in Redis: tracking number → order, and scans parked until then.

The link agent owns this index rather than reading the timeline store's: it learns each link
from the shipment message on the *same* partition as the scans of that number, so "scan before
its shipment" and "shipment before its scan" are decided in partition order, with no race
against the timeline agent. Every released scan is re-published on the events topic, so the
warehouse sees it like any other event.

Keys are hash-tagged by tracking number (``{prefix}:link:{NUMBER}``) so Redis Cluster keeps one
number's link and parked scans on one slot. Every operation is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis


class LinkIndex:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _link_key(self, number: str) -> str:
        return f"{self._prefix}:link:{{{number}}}"

    def _parked_key(self, number: str) -> str:
        return f"{self._prefix}:link:{{{number}}}:parked"

    async def order_for(self, number: str) -> str | None:
        value = await self._redis.get(self._link_key(number))
        return value.decode() if isinstance(value, bytes) else value

    async def park(self, number: str, event_id: str, event: bytes) -> None:
        await self._redis.hset(self._parked_key(number), event_id, event)

    async def link(self, number: str, order_id: str) -> dict[str, bytes]:
        """Record the link; returns the scans parked under the number (event id → event)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._link_key(number), order_id)
            pipe.hgetall(self._parked_key(number))
            _, parked = await pipe.execute()
        return {(k.decode() if isinstance(k, bytes) else k): v for k, v in (parked or {}).items()}

    async def forget_parked(self, number: str, event_ids: Iterable[str]) -> None:
        """Drop released scans, once they are safely on the events topic."""
        ids = list(event_ids)
        if ids:
            await self._redis.hdel(self._parked_key(number), *ids)

    async def parked_count(self, number: str) -> int:
        count: int = await self._redis.hlen(self._parked_key(number))
        return count
