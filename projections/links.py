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

The parked numbers are indexed for the agent console (:meth:`LinkIndex.unmatched`):
``P:{unmatched}:first`` / ``:last`` (sorted sets: when a number was first and last parked, by
Redis's clock) and ``P:{unmatched}:carrier``. One script parks or drops scans and updates the
index together; a number leaves the index when its last parked scan does. On one Redis that is
one atomic step. A Redis Cluster keeps the index on its own slot, so there the parking and the
index are two steps of the same round trip (dropping: the index is updated once the parking is
seen empty); they cannot disagree for long, as one number's parking has one writer at a time
(the link agent owning its partition), and the console skips an entry whose scans are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from projections.merge import with_order
from projections.ordering import canonical_sequence
from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, text
from projections.unmatched import Cursor, UnmatchedNumber, carrier_of, matches, summarise
from wismo.events import Event, dump_event, parse_event, tracking_numbers_named

# KEYS: [the number's parking,] the index (first, last, carrier); ARGV: number, carrier, then
# event id and scan JSON pairs. A cluster client runs the parking and the index apart.
_PARK = """
local n = #KEYS
if n == 4 then
  for i = 3, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
if n >= 3 then
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[n - 2], 'NX', ms, ARGV[1])
  redis.call('ZADD', KEYS[n - 1], 'GT', ms, ARGV[1])
  if ARGV[2] ~= '' then redis.call('HSET', KEYS[n], ARGV[1], ARGV[2]) end
end
return 1
"""

# KEYS: [the number's parking,] [the index]; ARGV: number, then the event ids to drop (none:
# take them all). Returns {1 if scans are left, the scans taken}; the number leaves the index
# when none is left.
_UNPARK = """
local n = #KEYS
local taken = {}
if n ~= 3 then
  if #ARGV == 1 then
    taken = redis.call('HGETALL', KEYS[1])
    redis.call('DEL', KEYS[1])
  else
    for i = 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
  end
  if redis.call('EXISTS', KEYS[1]) == 1 then return {1, taken} end
end
if n >= 3 then
  redis.call('ZREM', KEYS[n - 2], ARGV[1])
  redis.call('ZREM', KEYS[n - 1], ARGV[1])
  redis.call('HDEL', KEYS[n], ARGV[1])
end
return {0, taken}
"""

# KEYS: a pointer (tracking number or lookup key → order); ARGV: the order. Written only when
# it names another order: an unchanged pointer keeps its time to live (a final order's pointers
# are on the retention clock, and a merge that re-states them must not take them off it).
_POINT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""

_UNMATCHED_CHUNK = 200

#: number → event id → scan JSON
Parked = dict[str, dict[str, bytes]]


def named_numbers(events: Iterable[Event]) -> list[str]:
    """The tracking numbers the events' shipments and returns name, once each."""
    return list(dict.fromkeys(n for event in events for n in tracking_numbers_named(event)))


def _by_event_id(reply: Mapping[bytes | str, bytes] | None) -> dict[str, bytes]:
    return {text(k): v for k, v in (reply or {}).items()}


def _eval(pipe: Any, script: str, keys: Sequence[str], *args: Any) -> None:
    # the source each time (a few hundred bytes): nothing to load, nothing lost on a failover
    pipe.execute_command("EVAL", script, len(keys), *keys, *args)


def point(pipe: Any, key: str, order_id: str) -> None:
    """Queue setting a pointer to ``order_id``, keeping its time to live when it already
    pointed there (one reply)."""
    _eval(pipe, _POINT, (key,), order_id)


def _events(held: Mapping[str, bytes]) -> list[Event]:
    return canonical_sequence(parse_event(raw) for raw in held.values())


class LinkIndex:
    """Tracking-number links and parked scans in Redis (a client the caller owns)."""

    def __init__(
        self, client: aioredis.Redis, prefix: str | RedisKeys, *, url: str = "redis"
    ) -> None:
        self.keys = prefix if isinstance(prefix, RedisKeys) else RedisKeys(prefix)
        self._pipes = RedisPipes(client, url)
        keys = self.keys
        self._index = (keys.unmatched_first, keys.unmatched_last, keys.unmatched_carrier)

    # the parking and its index, written together ------------------------------------------

    def _queue_parks(self, pipe: Any, parks: Mapping[str, Mapping[str, bytes]]) -> int:
        """Queue parking ``parks`` (number → event id → scan JSON); returns the replies queued."""
        queued = 0
        for number, scans in parks.items():
            if not scans:
                continue
            carrier = carrier_of(list(scans.values())[-1])
            pairs = [part for event_id, raw in scans.items() for part in (event_id, raw)]
            parking = self.keys.parked(number)
            if self._pipes.cluster:  # the parking's slot and the index's are not the same
                for event_id, raw in scans.items():
                    pipe.hsetnx(parking, event_id, raw)
                queued += len(scans)
                _eval(pipe, _PARK, self._index, number, carrier)
            else:
                _eval(pipe, _PARK, (parking, *self._index), number, carrier, *pairs)
            queued += 1
        return queued

    async def _unpark(self, drops: Mapping[str, Sequence[str] | None]) -> dict[str, list[Any]]:
        """Drop the event ids given (None: every scan) of each number; returns what was taken
        (number → flat field/value list, when taking all)."""
        if not drops:
            return {}
        cluster = self._pipes.cluster

        def build(pipe: Any) -> None:
            for number, ids in drops.items():
                keys = (
                    (self.keys.parked(number),)
                    if cluster
                    else (self.keys.parked(number), *self._index)
                )
                _eval(pipe, _UNPARK, keys, number, *(ids or ()))

        replies = await self._pipes.execute(build)
        outcome = {
            number: list(reply[1] or []) for number, reply in zip(drops, replies, strict=True)
        }
        emptied = [n for n, reply in zip(drops, replies, strict=True) if int(reply[0]) == 0]
        if cluster and emptied:

            def unindex(pipe: Any) -> None:
                for number in emptied:
                    _eval(pipe, _UNPARK, self._index, number)

            await self._pipes.execute(unindex)
        return outcome

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
                point(pipe, self.keys.tracking(number), order_id)
            self._queue_parks(pipe, parks)

        await self._pipes.execute(build)

    async def link(self, links: Mapping[str, str]) -> Parked:
        """Store links (number → order), then read what is parked under those numbers."""
        if not links:
            return {}

        def build(pipe: Any) -> None:
            for number, order_id in links.items():
                point(pipe, self.keys.tracking(number), order_id)
                pipe.hgetall(self.keys.parked(number))

        replies = await self._pipes.execute(build)
        held = {n: _by_event_id(r) for n, r in zip(links, replies[1::2], strict=True)}
        return {number: scans for number, scans in held.items() if scans}

    async def forget(self, released: Mapping[str, Iterable[str]]) -> None:
        """Drop released scans (once they are safe elsewhere)."""
        batches = {number: list(ids) for number, ids in released.items()}
        await self._unpark({number: ids for number, ids in batches.items() if ids})

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

            queued = 0

            def build(pipe: Any) -> None:
                nonlocal queued
                queued = self._queue_parks(pipe, parks)
                for number in numbers:
                    pipe.get(self.keys.tracking(number))

            replies = await self._pipes.execute(build)
            late = replies[queued:]
            known |= {n: text(o) for n, o in zip(numbers, late, strict=True) if o is not None}
        return [
            with_order(e, known[e.tracking_number or ""])
            for e in numbered
            if e.tracking_number in known
        ]

    async def release(self, tracking_number: str) -> list[Event]:
        """Take the scans parked under a number (removed), with its order when it is linked."""
        flat = (await self._unpark({tracking_number: None}))[tracking_number]
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

    async def index_parked(self, batch: int = 500) -> int:
        """Index the numbers parked before the unmatched-scan index existed; returns how many
        parkings were looked at (0 once done: a marker says so). Idempotent (an entry already
        there keeps its times); run by the link agent before it consumes."""
        prefix = self.keys.parked("")[:-2]  # P:park:
        client = self._pipes.client
        async with self._pipes.talking():
            if await client.exists(self.keys.unmatched_indexed):
                return 0
        seen = 0
        found: list[str] = []
        async with self._pipes.talking():
            async for key in client.scan_iter(match=f"{prefix}{{*}}", count=1000):
                found.append(text(key)[len(prefix) + 1 : -1])
                if len(found) >= batch:
                    seen += await self._index_numbers(found)
                    found = []
        seen += await self._index_numbers(found) if found else 0
        async with self._pipes.talking():
            await client.set(self.keys.unmatched_indexed, "1")
        return seen

    async def _index_numbers(self, numbers: list[str]) -> int:
        _, held = await self.lookup((), numbers)

        def build(pipe: Any) -> None:
            for number, scans in held.items():
                _eval(pipe, _PARK, self._index, number, carrier_of(list(scans.values())[-1]))

        if held:
            await self._pipes.execute(build)
        return len(numbers)

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
                    scans = {text(event_id): raw for event_id, raw in (reply or {}).items()}
                    self._queue_parks(pipe, {number: scans})
                elif reply is not None:
                    pipe.set(self.keys.tracking(name[skip:-1]), reply, nx=True)
                pipe.delete(name)

        await self._pipes.execute(move)
        return len(names)

    # the unmatched-scan index --------------------------------------------------------------

    async def unmatched(
        self, query: str, limit: int, after: Cursor | None = None, *, budget: int = 2000
    ) -> tuple[list[UnmatchedNumber], Cursor | None, int]:
        """Parked numbers matching ``query`` (normalised; see :func:`projections.unmatched.
        matches`), newest first parked first, after the cursor: (rows, the cursor of the next
        page or None at the end, how many numbers are parked in all).

        At most ``budget`` index entries are looked at: a rare search may return fewer than
        ``limit`` rows with a cursor to go on from.
        """
        client = self._pipes.client
        first, _, carriers = self._index
        top: str | int = "+inf" if after is None else after.first_ms
        picked: list[tuple[str, int, str | None]] = []
        offset, scanned, next_cursor = 0, 0, None
        async with self._pipes.talking():
            total = int(await client.zcard(first))
            while len(picked) < limit:
                chunk: list[Any] = await client.zrevrangebyscore(
                    first, top, "-inf", start=offset, num=_UNMATCHED_CHUNK, withscores=True
                )
                offset += len(chunk)
                entries: list[tuple[str, int]] = [
                    (text(member), int(score)) for member, score in chunk
                ]
                entries = [e for e in entries if after is None or after.after(e[1], e[0])]
                named = await client.hmget(carriers, [n for n, _ in entries]) if entries else []
                for (number, ms), carrier in zip(entries, named, strict=True):
                    scanned += 1
                    next_cursor = Cursor(ms, number)
                    carrier_text = None if carrier is None else text(carrier)
                    if matches(query, number, carrier_text):
                        picked.append((number, ms, carrier_text))
                        if len(picked) == limit:
                            break
                if len(chunk) < _UNMATCHED_CHUNK and len(picked) < limit:
                    next_cursor = None  # the end of the index
                    break
                if scanned >= budget:
                    break
        return await self._rows(picked), next_cursor, total

    async def _rows(self, picked: Sequence[tuple[str, int, str | None]]) -> list[UnmatchedNumber]:
        if not picked:
            return []
        last = self._index[1]

        def build(pipe: Any) -> None:
            for number, _, _ in picked:
                pipe.hgetall(self.keys.parked(number))
                pipe.zscore(last, number)

        replies = await self._pipes.execute(build)
        rows = []
        for i, (number, first_ms, carrier) in enumerate(picked):
            held, last_ms = _by_event_id(replies[2 * i]), replies[2 * i + 1]
            if held:  # else released meanwhile
                rows.append(summarise(number, first_ms, last_ms, carrier, held))
        return rows
