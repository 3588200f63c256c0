"""The tracking-number → order link, and scans parked until their number is linked.

The one implementation of this index: the link agent (:mod:`streams.agents.link`) keeps it in
partition order on the live path, the timeline store uses it when it is handed unlinked scans
itself (rebuilds, tools, tests), and the API reads it (tracking lookups, the agent console).

Keys (see :mod:`projections.redis_keys`): ``P:track:{NUMBER}`` holds the order id,
``P:park:{NUMBER}`` the parked scans by event id, hash-tagged by number so Redis Cluster keeps one
number's link and parking on one slot. Every operation is idempotent; parking keeps the first
copy of an event id.

Batch operations (:meth:`LinkIndex.lookup`, :meth:`LinkIndex.record`, :meth:`LinkIndex.link`,
:meth:`LinkIndex.forget`) are one pipelined round trip however many numbers they touch. The
pipelines are not transactions: every command is idempotent on its own.

Linking and parking never strand a scan when two writers race (a shipment's writer and a
scan's): :meth:`link` sets the link *first* and *then* reads the parking; :meth:`park` parks
*first* and *then* reads the link again. Whichever runs second sees the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from projections.merge import with_order
from projections.ordering import canonical_sequence
from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, evalsha, text
from wismo.events import Event, dump_event, parse_event, tracking_numbers_named

_TAKE = """
local parked = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return parked
"""

#: number → event id → scan JSON
Parked = dict[str, dict[str, bytes]]


def named_numbers(events: Iterable[Event]) -> list[str]:
    """The tracking numbers the events' shipments and returns name, once each."""
    return list(dict.fromkeys(n for event in events for n in tracking_numbers_named(event)))


def _by_event_id(reply: Mapping[bytes | str, bytes] | None) -> dict[str, bytes]:
    return {text(k): v for k, v in (reply or {}).items()}


def _events(held: Mapping[str, bytes]) -> list[Event]:
    return canonical_sequence(parse_event(raw) for raw in held.values())


class LinkIndex:
    """Tracking-number links and parked scans in Redis (a client the caller owns)."""

    def __init__(
        self, client: aioredis.Redis, prefix: str | RedisKeys, *, url: str = "redis"
    ) -> None:
        self.keys = prefix if isinstance(prefix, RedisKeys) else RedisKeys(prefix)
        self._pipes = RedisPipes(client, url, {"take": _TAKE})

    # batch operations (one round trip each) -------------------------------------------------

    async def lookup(
        self, links: Iterable[str], parked: Iterable[str]
    ) -> tuple[dict[str, str | None], Parked]:
        """The links of ``links`` and the parked scans of ``parked``."""
        link_numbers, parked_numbers = list(links), list(parked)
        if not link_numbers and not parked_numbers:
            return {}, {}

        def build(pipe: Any) -> None:
            for number in link_numbers:
                pipe.get(self.keys.tracking(number))
            for number in parked_numbers:
                pipe.hgetall(self.keys.parked(number))

        replies = await self._pipes.execute(build)
        split = len(link_numbers)
        orders = {
            n: None if v is None else text(v)
            for n, v in zip(link_numbers, replies[:split], strict=True)
        }
        scans = {n: _by_event_id(r) for n, r in zip(parked_numbers, replies[split:], strict=True)}
        return orders, {number: held for number, held in scans.items() if held}

    async def record(
        self, links: Mapping[str, str], parks: Mapping[str, Mapping[str, bytes]]
    ) -> None:
        """Store links (number → order) and park scans (number → event id → scan JSON)."""
        if not links and not any(parks.values()):
            return

        def build(pipe: Any) -> None:
            for number, order_id in links.items():
                pipe.set(self.keys.tracking(number), order_id)
            for number, scans in parks.items():
                for event_id, raw in scans.items():
                    pipe.hsetnx(self.keys.parked(number), event_id, raw)

        await self._pipes.execute(build)

    async def link(self, links: Mapping[str, str]) -> Parked:
        """Store links (number → order), then read what is parked under those numbers."""
        if not links:
            return {}

        def build(pipe: Any) -> None:
            for number, order_id in links.items():
                pipe.set(self.keys.tracking(number), order_id)
                pipe.hgetall(self.keys.parked(number))

        replies = await self._pipes.execute(build)
        held = {n: _by_event_id(r) for n, r in zip(links, replies[1::2], strict=True)}
        return {number: scans for number, scans in held.items() if scans}

    async def forget(self, released: Mapping[str, Iterable[str]]) -> None:
        """Drop released scans (once they are safe elsewhere)."""
        batches = {number: list(ids) for number, ids in released.items()}
        if not any(batches.values()):
            return

        def build(pipe: Any) -> None:
            for number, ids in batches.items():
                if ids:
                    pipe.hdel(self.keys.parked(number), *ids)

        await self._pipes.execute(build)

    async def orders(self, numbers: Sequence[str]) -> dict[str, str]:
        """The linked numbers among ``numbers``, with their orders."""
        known, _ = await self.lookup(numbers, ())
        return {number: order_id for number, order_id in known.items() if order_id is not None}

    # scans handed over one by one (the store's path) ----------------------------------------

    async def park(self, events: Sequence[Event]) -> list[Event]:
        """Park scans whose number is not linked; returns those that are, with their order.

        Two round trips at most: read the links, then park the rest and read their links again
        (a shipment linking meanwhile is seen here, or sees the parked scan).
        """
        numbered = [e for e in events if e.tracking_number is not None]
        if not numbered:
            return []
        known = await self.orders(list(dict.fromkeys(e.tracking_number or "" for e in numbered)))
        waiting = [e for e in numbered if e.tracking_number not in known]
        if waiting:
            parks: Parked = {}
            for event in waiting:
                number = event.tracking_number or ""
                parks.setdefault(number, {})[event.event_id] = dump_event(event)
            numbers = list(parks)

            def build(pipe: Any) -> None:
                for number, scans in parks.items():
                    for event_id, raw in scans.items():
                        pipe.hsetnx(self.keys.parked(number), event_id, raw)
                for number in numbers:
                    pipe.get(self.keys.tracking(number))

            replies = await self._pipes.execute(build)
            late = replies[sum(len(scans) for scans in parks.values()) :]
            known |= {n: text(o) for n, o in zip(numbers, late, strict=True) if o is not None}
        return [
            with_order(e, known[e.tracking_number or ""])
            for e in numbered
            if e.tracking_number in known
        ]

    async def release(self, tracking_number: str) -> list[Event]:
        """Take the scans parked under a number (removed), with its order when it is linked."""
        key = self.keys.parked(tracking_number)
        (flat,) = await self._pipes.execute(
            lambda pipe: evalsha(pipe, self._pipes.shas["take"], 1, key), scripted=True
        )
        taken = _events({text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)})
        order_id = await self.order_for(tracking_number)
        return [with_order(e, order_id) for e in taken] if order_id else taken

    # reads ------------------------------------------------------------------------------------

    async def order_for(self, tracking_number: str) -> str | None:
        """The order whose shipment or return names this number."""
        return (await self.orders([tracking_number])).get(tracking_number)

    async def parked(self, tracking_number: str) -> list[Event]:
        """The scans parked under a number, in canonical order (nothing removed)."""
        _, held = await self.lookup((), (tracking_number,))
        return _events(held.get(tracking_number, {}))

    async def parked_count(self, tracking_number: str) -> int:
        async with self._pipes.talking():
            count: int = await self._pipes.client.hlen(self.keys.parked(tracking_number))
        return count

    # upgrade ------------------------------------------------------------------------------------

    async def adopt_legacy(self, batch: int = 500) -> int:
        """Move what the link agent kept under its former keys (``P:streams:link:{NUMBER}`` and
        ``P:streams:link:{NUMBER}:parked``) into this index; returns the keys moved.

        Idempotent, and safe beside a running agent: a link already here wins, a parked scan
        already here is kept. Run by the link agent before it consumes.
        """
        legacy = f"{self.keys.prefix}:streams:link:{{"
        client = self._pipes.client
        found: list[str] = []
        moved = 0
        async with self._pipes.talking():
            async for key in client.scan_iter(match=f"{legacy}*", count=1000):
                found.append(text(key))
                if len(found) >= batch:
                    moved += await self._adopt(found, len(legacy))
                    found = []
        return moved + (await self._adopt(found, len(legacy)) if found else 0)

    async def _adopt(self, names: list[str], skip: int) -> int:
        def read(pipe: Any) -> None:
            for name in names:
                if name.endswith("}:parked"):
                    pipe.hgetall(name)
                else:
                    pipe.get(name)

        replies = await self._pipes.execute(read)

        def move(pipe: Any) -> None:
            for name, reply in zip(names, replies, strict=True):
                if name.endswith("}:parked"):
                    number = name[skip : -len("}:parked")]
                    for event_id, raw in (reply or {}).items():
                        pipe.hsetnx(self.keys.parked(number), text(event_id), raw)
                elif reply is not None:
                    pipe.set(self.keys.tracking(name[skip:-1]), reply, nx=True)
                pipe.delete(name)

        await self._pipes.execute(move)
        return len(names)
