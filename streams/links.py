"""The link agent's own state in Redis: tracking number → order, and scans parked until then.

The link agent owns this index rather than reading the timeline store's: it learns each link
from the shipment message on the *same* partition as the scans of that number, so "scan before
its shipment" and "shipment before its scan" are decided in partition order, with no race
against the timeline agent. Every released scan is re-published on the events topic, so the
warehouse sees it like any other event.

Keys are hash-tagged by tracking number (``{prefix}:link:{NUMBER}``) so Redis Cluster keeps one
number's link and parked scans on one slot. Every operation is idempotent.

The agent uses the batch operations (:meth:`LinkIndex.lookup`, :meth:`LinkIndex.record`,
:meth:`LinkIndex.forget`): each is one pipelined round trip however many numbers it touches.
The pipelines are not transactions: every command is idempotent on its own, only this
partition's consumer writes a number's keys, and Redis Cluster splits a pipeline by slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis


class LinkIndex:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _link_key(self, number: str) -> str:
        return f"{self._prefix}:link:{{{number}}}"

    def _parked_key(self, number: str) -> str:
        return f"{self._prefix}:link:{{{number}}}:parked"

    async def lookup(
        self, links: Iterable[str], parked: Iterable[str]
    ) -> tuple[dict[str, str | None], dict[str, dict[str, bytes]]]:
        """The links of ``links`` and the parked scans of ``parked``, in one round trip."""
        link_numbers, parked_numbers = list(links), list(parked)
        if not link_numbers and not parked_numbers:
            return {}, {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for number in link_numbers:
                pipe.get(self._link_key(number))
            for number in parked_numbers:
                pipe.hgetall(self._parked_key(number))
            replies = await pipe.execute()
        split = len(link_numbers)
        orders = {n: _text(v) for n, v in zip(link_numbers, replies[:split], strict=True)}
        scans = {
            number: _by_event_id(reply)
            for number, reply in zip(parked_numbers, replies[split:], strict=True)
        }
        return orders, {number: held for number, held in scans.items() if held}

    async def record(self, links: Mapping[str, str], parks: Mapping[str, dict[str, bytes]]) -> None:
        """Store links (number → order) and park scans (number → event id → event), in one
        round trip."""
        if not links and not parks:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for number, order_id in links.items():
                pipe.set(self._link_key(number), order_id)
            for number, scans in parks.items():
                if scans:
                    fields: dict[Any, bytes] = dict(scans)  # redis-py's mapping type is invariant
                    pipe.hset(self._parked_key(number), mapping=fields)
            await pipe.execute()

    async def forget(self, released: Mapping[str, Iterable[str]]) -> None:
        """Drop released scans of many numbers (once safely on the events topic), in one round
        trip."""
        batches = {number: list(ids) for number, ids in released.items()}
        if not any(batches.values()):
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for number, ids in batches.items():
                if ids:
                    pipe.hdel(self._parked_key(number), *ids)
            await pipe.execute()

    async def order_for(self, number: str) -> str | None:
        """The order a number is linked to (for inspection; the agent reads with :meth:`lookup`)."""
        return _text(await self._redis.get(self._link_key(number)))

    async def parked_count(self, number: str) -> int:
        count: int = await self._redis.hlen(self._parked_key(number))
        return count


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _by_event_id(reply: Mapping[bytes | str, bytes] | None) -> dict[str, bytes]:
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in (reply or {}).items()}
