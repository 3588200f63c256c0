"""The live timeline store in Redis: atomic, idempotent apply; indexes; parked scans; publish.

Keys (``P`` is the configured prefix; ``{…}`` is the Redis Cluster hash tag, so everything of one
order lives on one slot and one Lua script can move it atomically)::

    P:{ORDER}:events    hash  event_id -> canonical event JSON (the copy dedupe prefers)
    P:{ORDER}:state     hash  rev, json, version, digest, status, sha (of json)
    P:{ORDER}:dups      hash  event_id -> re-deliveries recognised and ignored
    P:track:{TRACKING}  string -> order id
    P:park:{TRACKING}   hash  event_id -> scan JSON, for scans no known shipment names yet
    P:lookup:KEY        string -> order id; KEY hashes order number + e-mail hash / postcode

Channels: ``P:timeline:ORDER`` gets each new timeline JSON; ``P:agents`` gets a small summary
(order_id, version, digest, status) of every change.

An apply costs two round trips per batch: one pipelined read script per order (which skips the
events when the process's cached copy is current), then one pipelined commit script per changed
order. The commit checks ``rev`` against what was read (optimistic concurrency); a conflicting
order is re-read and refolded, so concurrent writers and replays converge on the fold of the
union. Publishing happens inside the commit script: exactly when the commit does.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.errors import StoreConflict, StoreUnavailable
from projections.lookup import document_matches, lookup_key, query_tokens, timeline_tokens
from projections.merge import OrderMerge, merge, with_order
from projections.ordering import canonical_sequence, group_by_order
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import OrderFold
from wismo.events import Event, dump_event, parse_event, tracking_numbers_named

_READ = """
local state = redis.call('HMGET', KEYS[2], 'rev', 'sha', 'lk')
return {state[1] or '0', state[2] or '', state[3] or '', redis.call('HGETALL', KEYS[1])}
"""

# ARGV: expected rev, json ('' when the timeline did not change), version, digest, status, sha,
# lookup digest ('' when unchanged), order channel, agents channel, agents message,
# number of dup pairs, dup pairs, event pairs.
# A new order's rev starts from the server clock, so a dropped and re-created order never
# repeats a rev a writer may still have cached.
_COMMIT = """
local current = redis.call('HGET', KEYS[2], 'rev')
if (current or '0') ~= ARGV[1] then return -1 end
local rev
if current then
  rev = string.format('%d', tonumber(current) + 1)
else
  local now = redis.call('TIME')
  rev = string.format('%d', tonumber(now[1]) * 1000000 + tonumber(now[2]))
end
local ndups = tonumber(ARGV[11])
local first = 12 + 2 * ndups
for i = 12, first - 1, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
for i = first, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] == '' then
  redis.call('HSET', KEYS[2], 'rev', rev)
else
  redis.call('HSET', KEYS[2], 'rev', rev, 'json', ARGV[2], 'version', ARGV[3],
             'digest', ARGV[4], 'status', ARGV[5], 'sha', ARGV[6])
  redis.call('PUBLISH', ARGV[8], ARGV[2])
  redis.call('PUBLISH', ARGV[9], ARGV[10])
end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'lk', ARGV[7]) end
return rev
"""

_TAKE = """
local parked = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return parked
"""

_CONFLICT = -1
MAX_ATTEMPTS = 32


def _sha(document: bytes) -> bytes:
    return hashlib.blake2b(document, digest_size=16).hexdigest().encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _pairs(flat: Sequence[bytes]) -> dict[str, Event]:
    return {flat[i].decode(): parse_event(flat[i + 1]) for i in range(0, len(flat), 2)}


@dataclass(slots=True)
class _State:
    """What Redis holds for an order (``rev`` b"0": nothing), as read or as last written."""

    rev: bytes = b"0"
    sha: bytes = b""
    lookups: bytes = b""
    events: dict[str, Event] = field(default_factory=dict)
    fold: OrderFold | None = None
    """The fold of ``events``, kept so the next events of a live order continue it."""


@dataclass(slots=True)
class _Pending:
    """One order of a batch on its way to a commit."""

    incoming: list[Event]
    state: _State
    released: tuple[tuple[str, tuple[str, ...]], ...] = ()


class RedisKeys:
    """Key and channel names under one prefix (the prefix must not contain ``{`` or ``}``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.agents_channel = f"{prefix}:agents"

    def events(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:events"

    def state(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:state"

    def dups(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:dups"

    def tracking(self, tracking_number: str) -> str:
        return f"{self.prefix}:track:{{{tracking_number}}}"

    def parked(self, tracking_number: str) -> str:
        return f"{self.prefix}:park:{{{tracking_number}}}"

    def lookup(self, key: str) -> str:
        return f"{self.prefix}:lookup:{key}"

    def order_channel(self, order_id: str) -> str:
        return f"{self.prefix}:timeline:{order_id}"


class RedisTimelineStore:
    """:class:`~projections.store.TimelineStore` on Redis (a client the caller owns)."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "wismo",
        *,
        url: str = "redis",
        cache_orders: int = 4096,
        continue_folds: bool = True,
    ) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self._url = url
        self._cache: OrderedDict[str, _State] = OrderedDict()
        self._cache_orders = cache_orders
        self._continue_folds = continue_folds  # False: refold every order (a benchmark baseline)
        self._scripts = dict.fromkeys(("read", "commit", "take"), "")

    # plumbing ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _talking(self) -> AsyncIterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self._url, error) from error

    async def _load_scripts(self) -> None:
        sources = {"read": _READ, "commit": _COMMIT, "take": _TAKE}
        for name, source in sources.items():
            self._scripts[name] = await self.client.script_load(source)

    async def _execute(self, build: Any) -> list[Any]:
        """Run a pipeline built by ``build(pipe)``; reload the scripts once if Redis lost them."""
        async with self._talking():
            if not self._scripts["read"]:
                await self._load_scripts()
            for attempt in (1, 2):
                pipe = self.client.pipeline(transaction=False)
                build(pipe)
                try:
                    results: list[Any] = await pipe.execute()
                except NoScriptError:
                    if attempt == 2:
                        raise
                    await self._load_scripts()
                    continue
                return results
        raise AssertionError("unreachable")

    def _remember(self, order_id: str, state: _State) -> None:
        if not self._continue_folds:
            state.fold = None
        self._cache[order_id] = state
        self._cache.move_to_end(order_id)
        while len(self._cache) > self._cache_orders:
            self._cache.popitem(last=False)

    # apply ---------------------------------------------------------------------------------

    async def apply(self, events: Sequence[Event]) -> list[TimelineChange]:
        by_order, unlinked = group_by_order(events)
        for event in await self.park(unlinked):
            by_order.setdefault(event.order_id or "", []).append(event)
        if not by_order:
            return []
        # optimistic: assume Redis holds what this writer last wrote (or nothing, for an order
        # it has not seen); the commit's rev check catches every other case
        pending = {
            order_id: _Pending(incoming, self._cache.get(order_id) or _State())
            for order_id, incoming in by_order.items()
        }
        try:
            await self._link(pending)
            changes: list[TimelineChange] = []
            for _ in range(MAX_ATTEMPTS):
                conflicted = await self._commit(pending, changes)
                if not conflicted:
                    return changes
                pending = {order_id: pending[order_id] for order_id in conflicted}
                await self._read(pending)
            raise StoreConflict(f"orders kept changing under this writer: {sorted(pending)[:5]}")
        except BaseException:
            # a cached fold may have been continued with events that were never committed
            for order_id in by_order:
                self._cache.pop(order_id, None)
            raise

    async def _link(self, pending: dict[str, _Pending]) -> None:
        """Index the tracking numbers the batch's shipments name; absorb their parked scans."""
        named = {o: numbers for o, p in pending.items() if (numbers := _named(p.incoming))}
        if not named:
            return

        def build(pipe: Any) -> None:
            # index first, then look at the parking: a concurrent park() does the reverse,
            # so one of the two always sees the other
            for order_id, numbers in named.items():
                for number in numbers:
                    pipe.set(self.keys.tracking(number), order_id)
                    pipe.hgetall(self.keys.parked(number))

        results = iter(await self._execute(build))
        for order_id, numbers in named.items():
            p, released = pending[order_id], []
            for number in numbers:
                next(results)  # the SET
                parked = {_text(k): parse_event(v) for k, v in next(results).items()}
                if parked:
                    p.incoming += [with_order(e, order_id) for e in parked.values()]
                    released.append((number, tuple(parked)))
            p.released = tuple(released)

    async def _read(self, pending: dict[str, _Pending]) -> None:
        """Fetch what Redis holds for orders whose assumed state turned out stale."""

        def build(pipe: Any) -> None:
            for order_id in pending:
                keys = (self.keys.events(order_id), self.keys.state(order_id))
                pipe.evalsha(self._scripts["read"], 2, *keys)

        for (order_id, p), reply in zip(pending.items(), await self._execute(build), strict=True):
            self._cache.pop(order_id, None)
            p.state = _State(reply[0], reply[1], reply[2], _pairs(reply[3]))

    async def _commit(
        self, pending: dict[str, _Pending], changes: list[TimelineChange]
    ) -> list[str]:
        """Write every order that gained something; returns the orders that lost a race."""
        plans = {o: merge(o, p.state.events, p.incoming) for o, p in pending.items()}
        commits: dict[str, tuple[list[Any], TimelineChange | None, _State]] = {}
        lookups: dict[str, str] = {}
        for order_id, plan in plans.items():
            if plan.writes:
                prepared = prepare_commit(self.keys, plan, pending[order_id].state)
                commits[order_id] = (prepared.args, prepared.change, prepared.after)
                lookups.update(dict.fromkeys(prepared.lookup_keys, order_id))

        def build(pipe: Any) -> None:
            for key, order_id in lookups.items():
                pipe.set(self.keys.lookup(key), order_id)
            for order_id, plan in plans.items():
                if order_id in commits:
                    keys = (self.keys.events(order_id), self.keys.state(order_id))
                    args = commits[order_id][0]
                    pipe.evalsha(self._scripts["commit"], 3, *keys, self.keys.dups(order_id), *args)
                elif plan.duplicates:
                    for event_id, count in plan.duplicates.items():
                        pipe.hincrby(self.keys.dups(order_id), event_id, count)
            for order_id, p in pending.items():
                for number, event_ids in p.released:
                    if order_id not in commits:
                        pipe.hdel(self.keys.parked(number), *event_ids)

        results = iter(await self._execute(build))
        for _ in lookups:
            next(results)
        conflicted: list[str] = []
        done: list[str] = []
        for order_id, plan in plans.items():
            if order_id not in commits:
                for _ in plan.duplicates:
                    next(results)
                continue
            rev = next(results)
            if rev == _CONFLICT:
                conflicted.append(order_id)
                continue
            _, change, state = commits[order_id]
            state.rev = _bytes(rev)
            self._remember(order_id, state)
            done.append(order_id)
            if change is not None:
                changes.append(change)
        await self._drop_released(pending, done)
        return conflicted

    async def _drop_released(self, pending: dict[str, _Pending], done: Iterable[str]) -> None:
        drops = [(n, ids) for o in done for n, ids in pending[o].released]
        if drops:

            def build(pipe: Any) -> None:
                for number, event_ids in drops:
                    pipe.hdel(self.keys.parked(number), *event_ids)

            await self._execute(build)

    # reads ---------------------------------------------------------------------------------

    async def timeline(self, order_id: str) -> bytes | None:
        async with self._talking():
            document = await self.client.hget(self.keys.state(order_id), "json")
        return None if document is None else _bytes(document)

    async def current(self, order_ids: Sequence[str]) -> list[TimelineChange]:
        fields = ("json", "version", "digest", "status")

        def build(pipe: Any) -> None:
            for order_id in order_ids:
                pipe.hmget(self.keys.state(order_id), *fields)

        replies = await self._execute(build) if order_ids else []
        return [
            TimelineChange(order_id, int(version), _text(digest), _text(status), _bytes(document))
            for order_id, (document, version, digest, status) in zip(
                order_ids, replies, strict=True
            )
            if document is not None
        ]

    async def events(self, order_id: str) -> list[Event]:
        async with self._talking():
            stored = await self.client.hgetall(self.keys.events(order_id))
        return canonical_sequence(parse_event(v) for v in stored.values())

    async def applied_ids(self, order_id: str) -> frozenset[str]:
        async with self._talking():
            ids = await self.client.hkeys(self.keys.events(order_id))
        return frozenset(_text(i) for i in ids)

    async def duplicates(self, order_id: str) -> dict[str, int]:
        async with self._talking():
            counts = await self.client.hgetall(self.keys.dups(order_id))
        return {_text(k): int(v) for k, v in counts.items()}

    async def order_for_tracking(self, tracking_number: str) -> str | None:
        async with self._talking():
            order_id = await self.client.get(self.keys.tracking(tracking_number))
        return _text(order_id) if order_id is not None else None

    async def order_for_lookup(
        self, order_number: str, email: str | None = None, postcode: str | None = None
    ) -> str | None:
        tokens = query_tokens(email, postcode)
        if not tokens:
            return None
        found = await self._get_each(
            [self.keys.lookup(lookup_key(order_number, t)) for t in tokens]
        )
        for raw in dict.fromkeys(o for o in found if o is not None):
            document = await self.timeline(_text(raw))
            if document and document_matches(orjson.loads(document), order_number, tokens):
                return _text(raw)
        return None

    async def _get_each(self, keys: list[str]) -> list[Any]:
        """GET of keys in different cluster slots (a pipeline, where MGET would refuse)."""

        def build(pipe: Any) -> None:
            for key in keys:
                pipe.get(key)

        return await self._execute(build) if keys else []

    # parked scans --------------------------------------------------------------------------

    async def park(self, events: Sequence[Event]) -> list[Event]:
        numbered = [e for e in events if e.tracking_number is not None]
        if not numbered:
            return []
        numbers = list(dict.fromkeys(e.tracking_number or "" for e in numbered))
        known = await self._owners(numbers)
        linked = [
            with_order(e, known[e.tracking_number or ""])
            for e in numbered
            if e.tracking_number in known
        ]
        waiting = [e for e in numbered if e.tracking_number not in known]
        if not waiting:
            return linked

        def build(pipe: Any) -> None:
            # park first, then look at the index again: apply() does the reverse
            for event in waiting:
                pipe.hsetnx(
                    self.keys.parked(event.tracking_number or ""), event.event_id, dump_event(event)
                )
            for number in dict.fromkeys(e.tracking_number or "" for e in waiting):
                pipe.get(self.keys.tracking(number))

        results = await self._execute(build)
        late = {
            number: owner.decode()
            for number, owner in zip(
                dict.fromkeys(e.tracking_number or "" for e in waiting),
                results[len(waiting) :],
                strict=True,
            )
            if owner is not None
        }
        linked += [
            with_order(e, late[e.tracking_number or ""])
            for e in waiting
            if e.tracking_number in late
        ]
        return linked

    async def _owners(self, numbers: list[str]) -> dict[str, str]:
        owners = await self._get_each([self.keys.tracking(n) for n in numbers])
        return {n: _text(o) for n, o in zip(numbers, owners, strict=True) if o is not None}

    async def parked(self, tracking_number: str) -> list[Event]:
        async with self._talking():
            stored = await self.client.hgetall(self.keys.parked(tracking_number))
        return canonical_sequence(parse_event(v) for v in stored.values())

    async def release(self, tracking_number: str) -> list[Event]:
        key = self.keys.parked(tracking_number)
        flat = (await self._execute(lambda pipe: pipe.evalsha(self._scripts["take"], 1, key)))[0]
        taken = canonical_sequence(_pairs(flat).values())
        order_id = (await self._owners([tracking_number])).get(tracking_number)
        return [with_order(e, order_id) for e in taken] if order_id else taken

    async def create(self, prepared: Sequence[PreparedCommit], *, replace: bool) -> list[str]:
        """Commit orders prepared by :func:`prepare_new_order` (``replace``: drop them first).

        Returns the orders that already existed (without ``replace``) or changed meanwhile:
        the caller applies their events the ordinary way. Nothing is cached.
        """

        def build(pipe: Any) -> None:
            for p in prepared:
                order_id = p.order_id
                if replace:
                    pipe.delete(
                        self.keys.events(order_id),
                        self.keys.state(order_id),
                        self.keys.dups(order_id),
                    )
                    self._cache.pop(order_id, None)
                for number in p.tracking_numbers:
                    pipe.set(self.keys.tracking(number), order_id)
                for key in p.lookup_keys:
                    pipe.set(self.keys.lookup(key), order_id)
                keys = (self.keys.events(order_id), self.keys.state(order_id))
                pipe.evalsha(self._scripts["commit"], 3, *keys, self.keys.dups(order_id), *p.args)

        results = await self._execute(build) if prepared else []
        per_order = (
            int(replace) + len(p.tracking_numbers) + len(p.lookup_keys) + 1 for p in prepared
        )
        ends = list(accumulate(per_order))
        return [
            p.order_id
            for p, end in zip(prepared, ends, strict=True)
            if results[end - 1] == _CONFLICT
        ]

    async def close(self) -> None:
        self._cache.clear()


def _named(events: Iterable[Event]) -> list[str]:
    return list(dict.fromkeys(n for event in events for n in tracking_numbers_named(event)))


@dataclass(slots=True)
class PreparedCommit:
    """Everything a commit of one order needs, computed without Redis (so in any process)."""

    order_id: str
    args: list[Any]
    change: TimelineChange | None
    after: _State
    lookup_keys: list[str]
    tracking_numbers: list[str]
    events: int
    """Distinct events the commit adds."""


def prepare_commit(keys: RedisKeys, plan: OrderMerge, before: _State) -> PreparedCommit:
    """Fold the order as it will be after ``plan`` and build the commit script's arguments.

    ``lookup_keys`` are the customer lookup keys to (re)write: empty when they did not change.
    """
    merged = {**plan.stored, **plan.writes}
    folded = _continued(before.fold, plan) or OrderFold.of(merged.values(), plan.order_id)
    timeline = folded.timeline
    document = timeline_to_json(timeline)
    after = _State(before.rev, _sha(document), before.lookups, merged, folded)
    change: TimelineChange | None = None
    lookup_keys: list[str] = []
    head: list[Any]
    if plan.new_ids or after.sha != before.sha:
        status = timeline.status.value
        change = TimelineChange(plan.order_id, timeline.version, timeline.digest, status, document)
        summary = orjson.dumps(
            {
                "order_id": plan.order_id,
                "version": timeline.version,
                "digest": timeline.digest,
                "status": status,
            }
        )
        number = timeline.order_number
        lookup_keys = (
            sorted(lookup_key(number, t) for t in timeline_tokens(timeline)) if number else []
        )
        after.lookups = _sha("\n".join(lookup_keys).encode()) if lookup_keys else b""
        if after.lookups == before.lookups:
            lookup_keys = []
        head = [
            before.rev, document, timeline.version, timeline.digest, status, after.sha,
            after.lookups if lookup_keys else b"",
            keys.order_channel(plan.order_id), keys.agents_channel, summary,
        ]  # fmt: skip
    else:
        head = [before.rev, b"", 0, "", "", "", b"", "", "", ""]
    dups = [x for event_id, n in plan.duplicates.items() for x in (event_id, n)]
    writes = [x for event_id, e in plan.writes.items() for x in (event_id, dump_event(e))]
    return PreparedCommit(
        plan.order_id,
        [*head, len(plan.duplicates), *dups, *writes],
        change,
        after,
        lookup_keys,
        _named(plan.writes.values()),
        len(plan.new_ids),
    )


def _continued(folded: OrderFold | None, plan: OrderMerge) -> OrderFold | None:
    """``folded`` continued with the plan's events, when they are all new and continue it.

    The cached fold is extended in place: a caller whose commit then fails drops the cache.
    """
    if folded is None or not plan.writes or not plan.writes.keys().isdisjoint(plan.stored):
        return None
    return folded if folded.extend(plan.writes.values()) else None


def prepare_new_order(prefix: str, order_id: str, documents: Sequence[str]) -> PreparedCommit:
    """The commit that creates an order from its logged events (a bulk rebuild's unit of work).

    Pure and picklable in and out, so a process pool can run it; the result carries no events.
    """
    events = [with_order(parse_event(document), order_id) for document in documents]
    prepared = prepare_commit(RedisKeys(prefix), merge(order_id, {}, events), _State())
    prepared.after.events, prepared.after.fold = {}, None
    return prepared
