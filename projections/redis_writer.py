"""Writing timelines to Redis: atomic, idempotent apply; bulk create; publish; the agent index.

An apply costs one round trip per batch when this writer's cache is right (the usual case for
a partition's own writer): one pipelined commit script per changed order, assuming Redis holds
what this writer last wrote. The commit checks ``rev`` against what was assumed (optimistic
concurrency); an order whose assumption was stale costs one pipelined read and another commit,
so concurrent writers and replays converge on the fold of the union. When the store links
shipments itself, linking them costs one more round trip, and dropping absorbed parked scans
another.

The commit script writes, in one atomic step: the order's new events, its timeline and state,
its duplicate counts, the agent index entries of the new timeline (order number, e-mail hash,
exception rows: :mod:`projections.agent_index`; only when they changed, by the ``ix`` digest in
the state hash), and publishes the timeline on ``P:timeline:ORDER`` and a summary on
``P:agents`` — exactly when the commit happens. (The agent index keys lie outside the order's
hash slot: on Redis Cluster they would need a slot of their own; the store runs on one Redis
primary.)

Tracking events without an order go through :class:`projections.links.LinkIndex`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from projections.errors import StoreConflict
from projections.links import LinkIndex, named_numbers
from projections.merge import merge, with_order
from projections.ordering import group_by_order
from projections.redis_commit import OrderState, PreparedCommit, prepare_commit
from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, as_bytes
from projections.retention import MARK_EXTRA_S, SWEEP_BATCH, record_for, retention_keys
from projections.store import TimelineChange
from wismo.events import Event, parse_event

READ = """
local state = redis.call('HMGET', KEYS[2], 'rev', 'sha', 'lk', 'ix')
return {state[1] or '0', state[2] or '', state[3] or '', state[4] or '',
        redis.call('HGETALL', KEYS[1])}
"""

# KEYS: events, state, dups, and when the index entries changed: index exceptions, index
# resolved, index number set, index e-mail set.
# ARGV: 1 expected rev, 2 json ('' when the timeline did not change), 3 version, 4 digest,
# 5 status, 6 sha, 7 lookup digest ('' when unchanged), 8 order channel, 9 agents channel,
# 10 agents message, 11 order id, 12 index digest ('' when the entries did not change), 13 '1'
# when it has an order number, 14 '1' when it has an e-mail hash, 15 seconds a resolved
# exception is kept, 16 number of exception rows, 17 number of dup pairs, then rows (id, row
# JSON, resolved epoch or ''), dup pairs, event pairs.
# A new order's rev starts from the server clock, so a dropped and re-created order never
# repeats a rev a writer may still have cached.
# Retention (projections.retention): the writer appends three keys (due zset, records hash, the
# order's retained mark) and puts two arguments first (seconds to keep a final order, 0: for
# ever; its expiry record JSON, '' unless the new timeline is final); they are taken off here so
# the numbering above stands.
COMMIT = """
local mark = table.remove(KEYS)
local records = table.remove(KEYS)
local due = table.remove(KEYS)
local keep = tonumber(table.remove(ARGV, 1))
local record = table.remove(ARGV, 1)
local current = redis.call('HGET', KEYS[2], 'rev')
if (current or '0') ~= ARGV[1] then return -1 end
if not current and redis.call('EXISTS', mark) == 1 then
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
local rows = 18
local dups = rows + 3 * tonumber(ARGV[16])
local writes = dups + 2 * tonumber(ARGV[17])
for i = dups, writes - 1, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
for i = writes, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] == '' then
  redis.call('HSET', KEYS[2], 'rev', rev)
else
  redis.call('HSET', KEYS[2], 'rev', rev, 'json', ARGV[2], 'version', ARGV[3],
             'digest', ARGV[4], 'status', ARGV[5], 'sha', ARGV[6])
  local changed = {}
  if ARGV[12] ~= '' then
    redis.call('HSET', KEYS[2], 'ix', ARGV[12])
    if ARGV[13] ~= '' then redis.call('SADD', KEYS[6], ARGV[11]) end
    if ARGV[14] ~= '' then redis.call('SADD', KEYS[7], ARGV[11]) end
    local cutoff = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[15])
    for i = rows, dups - 1, 3 do
      local resolved = ARGV[i + 2]
      if resolved ~= '' and tonumber(resolved) < cutoff then
        -- resolved longer ago than the keep: out of the index (announced if it was in)
        if redis.call('HDEL', KEYS[4], ARGV[i]) == 1 then changed[#changed + 1] = ARGV[i + 1] end
        redis.call('ZREM', KEYS[5], ARGV[i])
      elseif redis.call('HGET', KEYS[4], ARGV[i]) ~= ARGV[i + 1] then
        redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
        if resolved ~= '' then redis.call('ZADD', KEYS[5], resolved, ARGV[i]) end
        changed[#changed + 1] = ARGV[i + 1]
      end
    end
    if dups > rows then
      local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', cutoff, 'LIMIT', 0, 100)
      if #old > 0 then
        redis.call('HDEL', KEYS[4], unpack(old))
        redis.call('ZREM', KEYS[5], unpack(old))
      end
    end
  end
  redis.call('PUBLISH', ARGV[8], ARGV[2])
  local summary = ARGV[10]
  if #changed > 0 then
    summary = string.sub(summary, 1, -2) .. ',"exceptions":[' .. table.concat(changed, ',') .. ']}'
  end
  redis.call('PUBLISH', ARGV[9], summary)
end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'lk', ARGV[7]) end
if ARGV[2] ~= '' and keep > 0 then
  local now = tonumber(redis.call('TIME')[1])
  if record ~= '' then
    for i = 1, 3 do redis.call('EXPIRE', KEYS[i], keep) end
    for _, key in ipairs(cjson.decode(record).expire) do redis.call('EXPIRE', key, keep) end
    redis.call('ZADD', due, now + keep, ARGV[11])
    redis.call('HSET', records, ARGV[11], record)
    redis.call('SET', mark, '1', 'EX', keep + @MARK_EXTRA@)
  else
    local old = redis.call('HGET', records, ARGV[11])
    if old then
      for i = 1, 3 do redis.call('PERSIST', KEYS[i]) end
      for _, key in ipairs(cjson.decode(old).expire) do redis.call('PERSIST', key) end
      redis.call('ZREM', due, ARGV[11])
      redis.call('HDEL', records, ARGV[11])
    end
  end
end
if keep > 0 then
  local now = tonumber(redis.call('TIME')[1])
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, @SWEEP@)) do
    local raw = redis.call('HGET', records, id)
    if raw then
      local gone = cjson.decode(raw)
      if redis.call('EXISTS', gone.state) == 0 then
        for _, key in ipairs(gone.sets) do redis.call('SREM', key, id) end
        for _, exception in ipairs(gone.exceptions) do
          redis.call('HDEL', gone.index[1], exception)
          redis.call('ZREM', gone.index[2], exception)
        end
        for _, key in ipairs(gone.expire) do
          if redis.call('GET', key) == id then redis.call('DEL', key) end
        end
      end
    end
    redis.call('ZREM', due, id)
    redis.call('HDEL', records, id)
  end
end
return rev
""".replace("@MARK_EXTRA@", str(MARK_EXTRA_S)).replace("@SWEEP@", str(SWEEP_BATCH))

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

    def _commit_script(self, pipe: Any, p: PreparedCommit) -> None:
        """Queue the commit script for ``p``, with the retention keys and arguments."""
        record = b""
        if p.change is not None:
            record = record_for(
                self.keys, p.order_id, p.change.status, p.change.timeline, self._retention_s
            )
        keys = [*p.keys, *retention_keys(self.keys, p.order_id)]
        pipe.evalsha(
            self._pipes.shas["commit"], len(keys), *keys, self._retention_s, record, *p.args
        )

    async def apply(self, events: Sequence[Event]) -> list[TimelineChange]:
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
                pipe.evalsha(self._pipes.shas["read"], 2, *keys)

        replies = await self._pipes.execute(build, scripted=True)
        for (order_id, p), reply in zip(pending.items(), replies, strict=True):
            self._cache.pop(order_id, None)
            p.state = OrderState(reply[0], reply[1], reply[2], reply[3], _pairs(reply[4]))

    async def _commit(
        self, pending: dict[str, _Pending], changes: list[TimelineChange]
    ) -> list[str]:
        """Write every order that gained something; returns the orders that lost a race."""
        plans = {o: merge(o, p.state.events, p.incoming) for o, p in pending.items()}
        commits: dict[str, PreparedCommit] = {}
        lookups: dict[str, str] = {}
        for order_id, plan in plans.items():
            if plan.writes:
                prepared = prepare_commit(self.keys, plan, pending[order_id].state)
                commits[order_id] = prepared
                lookups.update(dict.fromkeys(prepared.lookup_keys, order_id))

        def build(pipe: Any) -> None:
            for key, order_id in lookups.items():
                pipe.set(self.keys.lookup(key), order_id)
            for order_id, plan in plans.items():
                if order_id in commits:
                    p = commits[order_id]
                    self._commit_script(pipe, p)
                elif plan.duplicates:
                    for event_id, count in plan.duplicates.items():
                        pipe.hincrby(self.keys.dups(order_id), event_id, count)

        results = iter(await self._pipes.execute(build, scripted=True))
        for _ in lookups:
            next(results)
        conflicted: list[str] = []
        done: list[str] = []
        for order_id, plan in plans.items():
            if order_id not in commits:
                for _ in plan.duplicates:
                    next(results)
                done.append(order_id)  # nothing new: its absorbed scans are already held
                continue
            rev = next(results)
            if rev == _CONFLICT:
                conflicted.append(order_id)
                continue
            prepared = commits[order_id]
            prepared.after.rev = as_bytes(rev)
            self._remember(order_id, prepared.after)
            done.append(order_id)
            if prepared.change is not None:
                changes.append(prepared.change)
        await self.links.forget(_released(pending, done))
        return conflicted

    async def create(self, prepared: Sequence[PreparedCommit], *, replace: bool) -> list[str]:
        """Commit orders prepared by :func:`~projections.redis_commit.prepare_new_order`
        (``replace``: drop them first).

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
                # written whole from the log: not partial, whether or not it had expired
                pipe.delete(self.keys.retained(order_id))
                for number in p.tracking_numbers:
                    pipe.set(self.keys.tracking(number), order_id)
                for key in p.lookup_keys:
                    pipe.set(self.keys.lookup(key), order_id)
                self._commit_script(pipe, p)

        results = await self._pipes.execute(build, scripted=True) if prepared else []
        per_order = (
            int(replace) + 1 + len(p.tracking_numbers) + len(p.lookup_keys) + 1 for p in prepared
        )
        ends = list(accumulate(per_order))
        return [
            p.order_id
            for p, end in zip(prepared, ends, strict=True)
            if results[end - 1] == _CONFLICT
        ]


def _released(pending: dict[str, _Pending], done: Iterable[str]) -> dict[str, list[str]]:
    released: dict[str, list[str]] = {}
    for order_id in done:
        for number, event_ids in pending[order_id].released.items():
            released.setdefault(number, []).extend(event_ids)
    return released
