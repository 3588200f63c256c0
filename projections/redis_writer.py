"""Writing timelines to Redis: atomic, idempotent apply; bulk create; publish; the agent index.

An apply costs one round trip per batch when this writer's cache is right (the usual case for
a partition's own writer), plus one when some order's index entries or retention changed (see
below; two on a Redis Cluster): one pipelined commit script per changed order, assuming Redis
holds what this writer last wrote. The commit checks ``rev`` against what was assumed (optimistic
concurrency); an order whose assumption was stale costs one pipelined read and another commit,
so concurrent writers and replays converge on the fold of the union. When the store links
shipments itself, linking them costs one more round trip, and dropping absorbed parked scans
another.

The commit script writes, in one atomic step on the order's own hash slot (so it runs on a Redis
Cluster as on one Redis): the order's new events, its timeline and state, its duplicate counts,
the expiry of its own keys when the timeline is final (:mod:`projections.retention`), and
publishes the timeline on ``P:timeline:ORDER`` and a summary on ``P:agents``. What lies on other
slots follows in one more pipelined round trip, only for orders that need it: the agent index
entries when they changed (:mod:`projections.redis_index`, which then publishes the summary with
the exception rows that changed) and the retention records and pointer expiry
(:mod:`projections.redis_retention`). Each follow-up is ordered so that a writer dying before it
leaves the next commit, or the retention sweep, to complete it.

Tracking events without an order go through :class:`projections.links.LinkIndex`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from projections.errors import StoreConflict
from projections.links import LinkIndex, named_numbers, point
from projections.merge import merge, with_order
from projections.ordering import group_by_order
from projections.redis_commit import OrderState, PreparedCommit, prepare_commit
from projections.redis_index import SCRIPTS as index_scripts
from projections.redis_index import queue_digest, queue_entries
from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, as_bytes, evalsha
from projections.redis_retention import SCRIPTS as retention_scripts
from projections.redis_retention import (
    queue_due,
    queue_file,
    queue_pointer_expiry,
    sweep,
    unfile,
)
from projections.redis_upgrade import adopt_legacy_keys
from projections.retention import MARK_EXTRA_S, record_for
from projections.store import TimelineChange
from wismo.events import Event, parse_event

READ = """
local state = redis.call('HMGET', KEYS[2], 'rev', 'sha', 'lk', 'ix')
return {state[1] or '0', state[2] or '', state[3] or '', state[4] or '',
        redis.call('HGETALL', KEYS[1])}
"""

# KEYS: events, state, dups, retained mark.
# ARGV: 1 seconds to keep a final order (0: for ever), 2 '1' when the new timeline is final,
# 3 expected rev, 4 json ('' when the timeline did not change), 5 version, 6 digest, 7 status,
# 8 sha, 9 lookup digest ('' when unchanged), 10 order channel, 11 agents channel, 12 change
# summary ('' when the index step publishes it), 13 number of dup pairs, then dup pairs, event
# pairs. Returns -1 on a stale rev, else {new rev, 1 when the order left a final state}.
# A new order's rev starts from the server clock, so a dropped and re-created order never
# repeats a rev a writer may still have cached. A state with a time to live was on the
# retention clock: a commit making it not final takes its own keys off it and says so.
COMMIT = """
local keep = tonumber(ARGV[1])
local current = redis.call('HGET', KEYS[2], 'rev')
if (current or '0') ~= ARGV[3] then return -1 end
if not current and redis.call('EXISTS', KEYS[4]) == 1 then
  -- the order expired: what is written now is partial until it is re-read from the log
  redis.call('HSET', KEYS[2], 'partial', '1')
end
local rev
if current then
  rev = string.format('%d', tonumber(current) + 1)
else
  local now = redis.call('TIME')
  rev = string.format('%d', tonumber(now[1]) * 1000000 + tonumber(now[2]))
end
local dups = 14
local writes = dups + 2 * tonumber(ARGV[13])
for i = dups, writes - 1, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
for i = writes, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local left = 0
if ARGV[4] == '' then
  redis.call('HSET', KEYS[2], 'rev', rev)
else
  redis.call('HSET', KEYS[2], 'rev', rev, 'json', ARGV[4], 'version', ARGV[5],
             'digest', ARGV[6], 'status', ARGV[7], 'sha', ARGV[8])
  redis.call('PUBLISH', ARGV[10], ARGV[4])
  if ARGV[12] ~= '' then redis.call('PUBLISH', ARGV[11], ARGV[12]) end
  if keep > 0 then
    if ARGV[2] == '1' then
      for i = 1, 3 do redis.call('EXPIRE', KEYS[i], keep) end
      redis.call('SET', KEYS[4], '1', 'EX', keep + @MARK_EXTRA@)
    elseif redis.call('TTL', KEYS[2]) > 0 then
      for i = 1, 3 do redis.call('PERSIST', KEYS[i]) end
      left = 1
    end
  end
end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'lk', ARGV[9]) end
return {rev, left}
""".replace("@MARK_EXTRA@", str(MARK_EXTRA_S))

# KEYS: state, retained mark. An order written whole from the log is not partial: its expiry
# mark goes, unless the order is still there (then the create conflicts and merges, and a final
# order keeps its place on the retention clock).
UNMARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
"""

#: every script a writer runs, by name
SCRIPTS = {"read": READ, "commit": COMMIT, "unmark": UNMARK, **index_scripts, **retention_scripts}

_CONFLICT = -1
MAX_ATTEMPTS = 32


def _pairs(flat: Sequence[bytes]) -> dict[str, Event]:
    return {flat[i].decode(): parse_event(flat[i + 1]) for i in range(0, len(flat), 2)}


@dataclass(slots=True)
class _Pending:
    """One order of a batch on its way to a commit."""

    incoming: list[Event]
    state: OrderState
    released: dict[str, tuple[str, ...]]
    """Number → ids of parked scans absorbed into this order: dropped after its commit."""


@dataclass(frozen=True, slots=True)
class _Committed:
    """An order whose commit went through, for the follow-up round trip."""

    prepared: PreparedCommit
    rev: bytes
    left: bool
    """The commit took the order out of a final state (off the retention clock)."""
    record: bytes
    """Its expiry record (b"": the new timeline is not final, or retention is off)."""


class TimelineWriter:
    """Applies events to orders (and creates orders in bulk) on a client the caller owns.

    ``link_shipments``: a committed shipment links the numbers it names and absorbs the scans
    parked under them. The live path turns it off: there the link agent does both, in
    partition order, and forwards the scans through the events topic.
    """

    def __init__(
        self,
        pipes: RedisPipes,
        keys: RedisKeys,
        links: LinkIndex,
        *,
        cache_orders: int = 4096,
        continue_folds: bool = True,
        link_shipments: bool = True,
        retention_s: int = 0,
    ) -> None:
        self._pipes = pipes
        self.keys = keys
        self.links = links
        self._cache: OrderedDict[str, OrderState] = OrderedDict()
        self._cache_orders = cache_orders
        self._continue_folds = continue_folds  # False: refold every order (a benchmark baseline)
        self._link_shipments = link_shipments
        self._retention_s = retention_s  # a final order's keys expire this long after (0: never)
        self._adopted = False  # the keys of a former layout moved (projections.redis_upgrade)

    def forget(self, order_id: str) -> None:
        self._cache.pop(order_id, None)

    def clear(self) -> None:
        self._cache.clear()

    def _remember(self, order_id: str, state: OrderState) -> None:
        if not self._continue_folds:
            state.fold = None
        self._cache[order_id] = state
        self._cache.move_to_end(order_id)
        while len(self._cache) > self._cache_orders:
            self._cache.popitem(last=False)

    async def complete(self, order_ids: Iterable[str]) -> None:
        """Clear the ``partial`` flag of orders refolded from the whole log (after an expiry)."""

        def build(pipe: Any) -> None:
            for order_id in order_ids:
                pipe.hdel(self.keys.state(order_id), "partial")

        await self._pipes.execute(build)

    def _commit_script(self, pipe: Any, p: PreparedCommit) -> bytes:
        """Queue the commit script for ``p`` (and first, when the timeline is final, its expiry
        record); returns the record (b"": none). Its replies: 1 or 2, see :func:`_replies`."""
        record = b""
        if p.change is not None:
            record = record_for(
                self.keys, p.order_id, p.change.status, p.change.timeline, self._retention_s
            )
        shas = self._pipes.shas
        if record:
            queue_file(pipe, shas, self.keys, p.order_id, self._retention_s, record)
        keys = [*p.keys, self.keys.retained(p.order_id)]
        evalsha(
            pipe,
            shas["commit"],
            len(keys),
            *keys,
            self._retention_s,
            "1" if record else "",
            *p.args,
        )
        return record

    async def _adopt(self) -> None:
        if not self._adopted:
            await adopt_legacy_keys(self._pipes, self.keys)
            self._adopted = True

    async def _follow_up(self, committed: Sequence[_Committed], due: Sequence[bytes]) -> None:
        """After the commits: index entries, pointer expiry, then the ``ix`` digests (see
        :mod:`projections.redis_index`); orders leaving retention; the retention sweep."""
        shas, keys = self._pipes.shas, self.keys
        indexed = [c for c in committed if c.prepared.index is not None]
        expiring = [c.record for c in committed if c.record]
        ordered = not self._pipes.cluster  # one Redis runs a pipeline in order

        def build(pipe: Any) -> None:
            for c in indexed:
                queue_entries(pipe, shas, keys, c.prepared)
            for record in expiring:
                queue_pointer_expiry(pipe, record, self._retention_s)
            if ordered:
                for c in indexed:
                    queue_digest(pipe, shas, keys, c.prepared, c.rev)

        if indexed or expiring:
            await self._pipes.execute(build, scripted=True)
        if indexed and not ordered:

            def digests(pipe: Any) -> None:
                for c in indexed:
                    queue_digest(pipe, shas, keys, c.prepared, c.rev)

            await self._pipes.execute(digests, scripted=True)
        await unfile(self._pipes, keys, [c.prepared.order_id for c in committed if c.left])
        if due:
            await sweep(self._pipes, keys, due)

    async def apply(
        self, events: Sequence[Event], *, count_duplicates: bool = True
    ) -> list[TimelineChange]:
        """Apply ``events``; copies of events an order holds count in its ``dups`` unless
        ``count_duplicates`` is off (a merging rebuild re-reads every logged event once)."""
        await self._adopt()
        by_order, unlinked = group_by_order(events)
        for event in await self.links.park(unlinked):
            by_order.setdefault(event.order_id or "", []).append(event)
        if not by_order:
            return []
        pending = {
            order_id: _Pending(incoming, self._cache.get(order_id) or OrderState(), {})
            for order_id, incoming in by_order.items()
        }
        try:
            if self._link_shipments:
                await self._link(pending)
            changes: list[TimelineChange] = []
            for _ in range(MAX_ATTEMPTS):
                conflicted = await self._commit(pending, changes, count_duplicates)
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
        """Link the tracking numbers the batch's shipments name; absorb their parked scans."""
        owners = {n: o for o, p in pending.items() for n in named_numbers(p.incoming)}
        for number, held in (await self.links.link(owners)).items():
            p = pending[owners[number]]
            p.incoming += [with_order(parse_event(raw), owners[number]) for raw in held.values()]
            p.released[number] = tuple(held)

    async def _read(self, pending: dict[str, _Pending]) -> None:
        """Fetch what Redis holds for orders whose assumed state turned out stale."""

        def build(pipe: Any) -> None:
            for order_id in pending:
                keys = (self.keys.events(order_id), self.keys.state(order_id))
                evalsha(pipe, self._pipes.shas["read"], 2, *keys)

        replies = await self._pipes.execute(build, scripted=True)
        for (order_id, p), reply in zip(pending.items(), replies, strict=True):
            self._cache.pop(order_id, None)
            p.state = OrderState(reply[0], reply[1], reply[2], reply[3], _pairs(reply[4]))

    async def _commit(
        self, pending: dict[str, _Pending], changes: list[TimelineChange], count_dups: bool
    ) -> list[str]:
        """Write every order that gained something; returns the orders that lost a race."""
        plans = {o: merge(o, p.state.events, p.incoming) for o, p in pending.items()}
        if not count_dups:
            for plan in plans.values():
                plan.duplicates.clear()
        commits: dict[str, PreparedCommit] = {}
        lookups: dict[str, str] = {}
        for order_id, plan in plans.items():
            if plan.writes:
                prepared = prepare_commit(self.keys, plan, pending[order_id].state)
                commits[order_id] = prepared
                lookups.update(dict.fromkeys(prepared.lookup_keys, order_id))

        records: dict[str, bytes] = {}
        sweeping = self._retention_s > 0

        def build(pipe: Any) -> None:
            for key, order_id in lookups.items():
                point(pipe, self.keys.lookup(key), order_id)
            for order_id, plan in plans.items():
                if order_id in commits:
                    records[order_id] = self._commit_script(pipe, commits[order_id])
                elif plan.duplicates:
                    for event_id, count in plan.duplicates.items():
                        pipe.hincrby(self.keys.dups(order_id), event_id, count)
            if sweeping:
                queue_due(pipe, self._pipes.shas, self.keys)

        replies = await self._pipes.execute(build, scripted=True)
        due = replies.pop() if sweeping else []
        results = iter(replies)
        for _ in lookups:
            next(results)
        conflicted: list[str] = []
        done: list[str] = []
        committed: list[_Committed] = []
        for order_id, plan in plans.items():
            if order_id not in commits:
                for _ in plan.duplicates:
                    next(results)
                done.append(order_id)  # nothing new: its absorbed scans are already held
                continue
            if records[order_id]:
                next(results)  # the expiry record filed
            reply = next(results)
            if reply == _CONFLICT:
                conflicted.append(order_id)
                continue
            prepared = commits[order_id]
            prepared.after.rev = as_bytes(reply[0])
            self._remember(order_id, prepared.after)
            done.append(order_id)
            committed.append(
                _Committed(prepared, prepared.after.rev, bool(reply[1]), records[order_id])
            )
            if prepared.change is not None:
                changes.append(prepared.change)
        await self._follow_up(committed, due)
        await self.links.forget(_released(pending, done))
        return conflicted

    async def create(self, prepared: Sequence[PreparedCommit], *, replace: bool) -> list[str]:
        """Commit orders prepared by :func:`~projections.redis_commit.prepare_new_order`
        (``replace``: drop them first).

        Returns the orders that already existed (without ``replace``) or changed meanwhile:
        the caller applies their events the ordinary way. Nothing is cached.
        """

        await self._adopt()
        records: list[bytes] = []

        def build(pipe: Any) -> None:
            for p in prepared:
                order_id = p.order_id
                if replace:
                    for key in p.keys:  # events, state, dups (a cluster pipeline deletes one)
                        pipe.delete(key)
                    self._cache.pop(order_id, None)
                # written whole from the log: not partial, whether or not it had expired
                keys = (self.keys.state(order_id), self.keys.retained(order_id))
                evalsha(pipe, self._pipes.shas["unmark"], 2, *keys)
                for number in p.tracking_numbers:
                    point(pipe, self.keys.tracking(number), order_id)
                for key in p.lookup_keys:
                    point(pipe, self.keys.lookup(key), order_id)
                records.append(self._commit_script(pipe, p))

        results = await self._pipes.execute(build, scripted=True) if prepared else []
        per_order = (
            3 * int(replace) + 1 + len(p.tracking_numbers) + len(p.lookup_keys) + 1 + bool(record)
            for p, record in zip(prepared, records, strict=True)
        )
        ends = list(accumulate(per_order))
        replies = [results[end - 1] for end in ends]
        await self._follow_up(
            [
                _Committed(p, as_bytes(reply[0]), bool(reply[1]), record)
                for p, reply, record in zip(prepared, replies, records, strict=True)
                if reply != _CONFLICT
            ],
            [],
        )
        return [
            p.order_id for p, reply in zip(prepared, replies, strict=True) if reply == _CONFLICT
        ]


def _released(pending: dict[str, _Pending], done: Iterable[str]) -> dict[str, list[str]]:
    released: dict[str, list[str]] = {}
    for order_id in done:
        for number, event_ids in pending[order_id].released.items():
            released.setdefault(number, []).extend(event_ids)
    return released
