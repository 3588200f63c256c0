"""The notification ledger: every planned message, its state, and what is due — in Redis.

The ledger is what makes a message go out once: a message's id is derived from its idempotency
key (:func:`~projections.notify.model.message_id_for`), and :meth:`Ledger.commit_plan` creates
its record only if none exists, in one script with the order's ``handled`` entries. A replayed
timeline change, a rebalance or a restarted worker plans the same ids again and commits nothing.

Keys (``P`` is the prefix; the ``{notify}`` hash tag keeps them on one Redis Cluster slot)::

    P:{notify}:msg:ID         hash  spec (message JSON), state, attempts, planned_at, first_try,
                                    due, reason, error, status_code, latency_ms, provider_id,
                                    sent_at, manual, updated (times in epoch ms)
    P:{notify}:due            zset  message id -> when to (re)try it, epoch ms; a taken message
                                    is pushed ``lease_s`` ahead (like the exception due index)
    P:{notify}:handled:ORDER  hash  what the planner already handled for the order, and
                                    ``_version``: the newest timeline version planned
    P:{notify}:order:ORDER    zset  message id -> planned at (the console's per-order list)
    P:{notify}:records        zset  outcome record JSON -> publish after (the record outbox)
    P:{notify}:failing        hash  webhook subscription id -> failing since:last failure (ms)
    P:{notify}:hold           hash  lane (subscription|order) -> the message that must go first
    P:{notify}:pending        zset  order id -> re-plan at (contacts not known yet)
    P:{notify}:pending_first  hash  order id -> first deferred at

States: ``queued`` → ``sending`` → ``sent`` | ``failed``, or ``queued`` → ``suppressed``;
``sending`` back to ``queued`` on a retry. ``sent``, ``failed`` and ``suppressed`` are final:
the ``mark_*`` scripts change nothing once a message is final (they answer ``False``), except
:meth:`Ledger.requeue`, the manual re-send. Every final transition writes its outcome record to
the record outbox *in the same script*, so the record is never lost and never written for a
transition that did not happen; a publisher takes records with a lease and removes them once
the broker has them (:meth:`take_records`, :meth:`records_done`).

Message records expire ``keep_s`` after their last change or, while queued, after their due
time (default: the retry horizon plus a week); ``handled`` and the per-order list are refreshed
on every commit for ``handled_keep_s`` (the order's own Redis retention, ``0`` for ever), so a
change arriving late in an order's life still finds its milestones handled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis

from projections.due_index import TAKE_LEASED, from_score, to_score
from projections.notify.model import Message, MessageState, NotifyChannel
from wismo.settings import Settings

log = logging.getLogger(__name__)
FINAL = frozenset({MessageState.SENT, MessageState.FAILED, MessageState.SUPPRESSED})
#: the field of an order's ``handled`` hash holding the newest timeline version planned
VERSION_FIELD = "_version"
#: message records are kept this long past the retry horizon (the console's delivery view)
KEEP_AFTER_HORIZON_S = 7 * 86400.0
DEFAULT_KEEP_S = 86400.0 + KEEP_AFTER_HORIZON_S

# KEYS: due, handled, order list, records, then one record key per message and suppression
# ARGV: now, keep_s, handled_keep_s, #messages, #suppressed, version ('' none),
#       per message: id, spec, due; per suppression: id, spec, reason, record; then handled pairs
_COMMIT = """
local now = ARGV[1]
local keep = tonumber(ARGV[2])
local hkeep = tonumber(ARGV[3])
local nm, ns = tonumber(ARGV[4]), tonumber(ARGV[5])
if ARGV[6] ~= '' then
  local seen = redis.call('HGET', KEYS[2], '_version')
  if seen and tonumber(seen) > tonumber(ARGV[6]) then return {{}, {}, 1} end
  redis.call('HSET', KEYS[2], '_version', ARGV[6])
end
local a, k = 7, 5
local new, quiet = {}, {}
for _ = 1, nm do
  local key, id = KEYS[k], ARGV[a]
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'spec', ARGV[a + 1], 'state', 'queued', 'attempts', 0,
      'planned_at', now, 'due', ARGV[a + 2], 'updated', now)
    -- kept ``keep`` past its due time (an "arriving soon" reminder may be due days ahead)
    local wait = math.max(0, math.ceil((tonumber(ARGV[a + 2]) - tonumber(now)) / 1000))
    if keep > 0 then redis.call('EXPIRE', key, keep + wait) end
    redis.call('ZADD', KEYS[1], ARGV[a + 2], id)
    redis.call('ZADD', KEYS[3], now, id)
    new[#new + 1] = id
  end
  k, a = k + 1, a + 3
end
for _ = 1, ns do
  local key, id = KEYS[k], ARGV[a]
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'spec', ARGV[a + 1], 'state', 'suppressed', 'attempts', 0,
      'planned_at', now, 'reason', ARGV[a + 2], 'updated', now)
    if keep > 0 then redis.call('EXPIRE', key, keep) end
    redis.call('ZADD', KEYS[3], now, id)
    redis.call('ZADD', KEYS[4], now, ARGV[a + 3])
    quiet[#quiet + 1] = id
  end
  k, a = k + 1, a + 4
end
if a <= #ARGV then
  redis.call('HSET', KEYS[2], unpack(ARGV, a, #ARGV))
end
local list_keep = math.max(keep, hkeep)
if hkeep > 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], hkeep) end
else
  redis.call('PERSIST', KEYS[2])
  list_keep = 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  if list_keep > 0 then redis.call('EXPIRE', KEYS[3], list_keep)
  else redis.call('PERSIST', KEYS[3]) end
end
return {new, quiet, 0}
"""

# KEYS: record, due, records; ARGV: id, op, now, keep_s, due ('' leave, '-' remove, else score),
# record ('' none), lease ('' any: the due score the caller took the message with), then
# field/value pairs
_MARK = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local op = ARGV[2]
local final = state == 'sent' or state == 'failed' or state == 'suppressed'
if final and op ~= 'requeue' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if ARGV[7] ~= '' and redis.call('ZSCORE', KEYS[2], ARGV[1]) ~= ARGV[7] then
  return 0
end
if op == 'sending' then redis.call('HSETNX', KEYS[1], 'first_try', ARGV[3]) end
if op == 'requeue' then redis.call('HDEL', KEYS[1], 'first_try', 'reason', 'error') end
if #ARGV > 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 8, #ARGV)) end
redis.call('HSET', KEYS[1], 'updated', ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if ARGV[5] == '-' then
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'due', ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[6]) end
return 1
"""

# KEYS: hold; ARGV: lane, message id
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS: failing; ARGV: subscription id, now, gap (ms, 0: none). Values are "since:last".
_FAILING = """
local value = redis.call('HGET', KEYS[1], ARGV[1])
local since = ARGV[2]
if value then
  local first, last = string.match(value, '^(%d+):(%d+)$')
  local gap = tonumber(ARGV[3])
  if first and (gap == 0 or tonumber(ARGV[2]) - tonumber(last) <= gap) then since = first end
end
redis.call('HSET', KEYS[1], ARGV[1], since .. ':' .. ARGV[2])
return since
"""

# KEYS: pending, pending_first; ARGV: order id, due, now
_DEFER = """
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
"""


class PlanLike(Protocol):
    """What :meth:`Ledger.commit_plan` needs of a plan (``projections.notify.plan.Plan``)."""

    @property
    def messages(self) -> Sequence[Message]: ...

    @property
    def suppressed(self) -> Sequence[tuple[Message, str]]: ...

    @property
    def handled(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class SimplePlan:
    """A plan built outside the journey planner (agent alerts)."""

    messages: Sequence[Message] = ()
    suppressed: Sequence[tuple[Message, str]] = ()
    handled: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit added: ids of new messages and of new suppressions."""

    messages: list[str]
    suppressed: list[str]
    stale: bool = False  # a newer version of the order was planned already: nothing written


@dataclass(frozen=True, slots=True)
class Entry:
    """One message's ledger record."""

    message_id: str
    message: Message
    state: MessageState
    attempts: int
    planned_at: datetime | None
    first_try: datetime | None
    due: datetime | None
    reason: str | None = None
    error: str | None = None
    status_code: int | None = None
    latency_ms: float | None = None
    provider_id: str | None = None
    sent_at: datetime | None = None
    manual: bool = False
    updated: datetime | None = None
    lease: int | None = None  # the due score :meth:`Ledger.take` leased it with

    @property
    def lease_until(self) -> datetime | None:
        return None if self.lease is None else from_score(self.lease)

    @property
    def final(self) -> bool:
        return self.state in FINAL


# one message's JSON ---------------------------------------------------------------------------


def message_to_json(message: Message) -> bytes:
    return orjson.dumps(
        {
            "key": message.key,
            "order_id": message.order_id,
            "channel": message.channel.value,
            "recipient": message.recipient,
            "kind": message.kind,
            "subject": message.subject,
            "payload": message.payload,
            "triggered_at": message.triggered_at.isoformat(),
            "due_at": message.due_at.isoformat(),
            "rank": message.rank,
            "version": message.version,
        },
        option=orjson.OPT_NON_STR_KEYS,
    )


def message_from_json(value: bytes | str) -> Message:
    document: dict[str, Any] = orjson.loads(value)
    return Message(
        key=document["key"],
        order_id=document["order_id"],
        channel=NotifyChannel(document["channel"]),
        recipient=document["recipient"],
        kind=document["kind"],
        subject=document["subject"],
        payload=document.get("payload") or {},
        triggered_at=datetime.fromisoformat(document["triggered_at"]),
        due_at=datetime.fromisoformat(document["due_at"]),
        rank=int(document.get("rank") or 0),
        version=int(document.get("version") or 0),
    )


class Ledger:
    """The ledger on a Redis client the caller owns."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "wismo",
        *,
        keep_s: float = DEFAULT_KEEP_S,
        handled_keep_s: float = 0.0,
    ) -> None:
        self.client = client
        self.base = f"{prefix}:{{notify}}"
        self.due_key = f"{self.base}:due"
        self.records_key = f"{self.base}:records"
        self.failing_key = f"{self.base}:failing"
        self.hold_key = f"{self.base}:hold"
        self.pending_key = f"{self.base}:pending"
        self.pending_first_key = f"{self.base}:pending_first"
        self.keep_s = round(keep_s)
        self.handled_keep_s = round(handled_keep_s)
        self._commit: Any = client.register_script(_COMMIT)
        self._take: Any = client.register_script(TAKE_LEASED)
        self._mark: Any = client.register_script(_MARK)
        self._release: Any = client.register_script(_RELEASE)
        self._defer: Any = client.register_script(_DEFER)
        self._failing: Any = client.register_script(_FAILING)

    @classmethod
    def from_settings(cls, client: aioredis.Redis, settings: Settings) -> Ledger:
        """The ledger with the keeps the settings call for: message records the retry horizon
        plus a week, ``handled`` as long as the order's own Redis retention (at least that)."""
        keep = settings.notify.retry_horizon_s + KEEP_AFTER_HORIZON_S
        retention = settings.retention.redis_s
        return cls(
            client,
            settings.redis.key_prefix,
            keep_s=keep,
            handled_keep_s=max(retention, keep) if retention > 0 else 0.0,
        )

    def record_key(self, message_id: str) -> str:
        return f"{self.base}:msg:{message_id}"

    def handled_key(self, order_id: str) -> str:
        return f"{self.base}:handled:{order_id}"

    def order_key(self, order_id: str) -> str:
        return f"{self.base}:order:{order_id}"

    # planning ---------------------------------------------------------------------------------

    async def commit_plan(
        self,
        order_id: str,
        plan: PlanLike,
        now: datetime,
        records: Mapping[str, bytes] | None = None,
        *,
        version: int | None = None,
    ) -> Committed:
        """Create the records of the plan's messages (queued, due at their ``due_at``) and of
        its suppressions, unless they exist, and add its handled entries — atomically.

        ``records`` maps a suppressed message's id to its outcome record (written to the record
        outbox only if the suppression is new). With ``version`` (the timeline version planned
        from), a plan older than one already committed for the order commits nothing: a worker
        that lost the order in a rebalance cannot write back what it saw of an older timeline
        over what the newer one's plan wrote."""
        records = records or {}
        keys = [self.due_key, self.handled_key(order_id), self.order_key(order_id)]
        keys.append(self.records_key)
        args: list[Any] = [to_score(now), self.keep_s, self.handled_keep_s]
        args += [len(plan.messages), len(plan.suppressed), "" if version is None else version]
        for message in plan.messages:
            keys.append(self.record_key(message.message_id))
            args += [message.message_id, message_to_json(message), to_score(message.due_at)]
        for message, reason in plan.suppressed:
            keys.append(self.record_key(message.message_id))
            record = records.get(message.message_id, b"")
            args += [message.message_id, message_to_json(message), reason, record]
        for name, value in plan.handled.items():
            args += [name, value]
        new, quiet, stale = await self._commit(keys=keys, args=args)
        return Committed([_text(x) for x in new], [_text(x) for x in quiet], bool(stale))

    async def handled(self, order_id: str) -> dict[str, str]:
        raw = await self.client.hgetall(self.handled_key(order_id))
        entries = {_text(name): _text(value) for name, value in raw.items()}
        entries.pop(VERSION_FIELD, None)
        return entries

    # dispatching ------------------------------------------------------------------------------

    async def take(self, now: datetime, limit: int, lease_s: float) -> list[Entry]:
        """Up to ``limit`` messages due at ``now``, leased for ``lease_s`` seconds: another
        dispatcher does not see them until the lease runs out (its holder died) or they are
        rescheduled. A message whose record has expired leaves the due set."""
        lease = to_score(now + timedelta(seconds=lease_s))
        taken = await self._take(keys=[self.due_key], args=[to_score(now), limit, lease])
        ids = [_text(x) for x in taken]
        entries = await self._entries(ids)
        gone = [i for i, entry in zip(ids, entries, strict=True) if entry is None]
        if gone:
            await self.client.zrem(self.due_key, *gone)
        return [replace(entry, lease=lease) for entry in entries if entry is not None]

    async def get(self, message_id: str) -> Entry | None:
        (entry,) = await self._entries([message_id])
        return entry

    async def for_order(self, order_id: str, limit: int = 100) -> list[Entry]:
        """The order's messages, newest planned first."""
        ids: list[Any] = await self.client.zrevrange(self.order_key(order_id), 0, max(limit, 1) - 1)
        entries = await self._entries([_text(x) for x in ids])
        return [entry for entry in entries if entry is not None]

    async def mark_sending(
        self,
        message_id: str,
        attempt: int,
        now: datetime,
        *,
        lease: int | None = None,
        lease_s: float | None = None,
    ) -> bool:
        """An attempt starts (``first_try`` is set by the first). With ``lease`` (the
        :attr:`Entry.lease` it was taken with) only if that lease still holds — a dispatcher
        whose lease ran out while it waited its turn finds another has the message, and does not
        send it — and the lease is renewed for ``lease_s`` from ``now``."""
        fields = {"state": MessageState.SENDING.value, "attempts": attempt}
        due = "" if lease_s is None else str(to_score(now + timedelta(seconds=lease_s)))
        return await self._transition(
            message_id, "sending", now, due=due, fields=fields, lease=lease
        )

    async def mark_sent(
        self,
        message_id: str,
        now: datetime,
        *,
        status_code: int | None = None,
        latency_ms: float | None = None,
        provider_id: str | None = None,
        record: bytes = b"",
    ) -> bool:
        fields: dict[str, Any] = {"state": MessageState.SENT.value, "sent_at": to_score(now)}
        fields.update(_present(status_code=status_code, latency_ms=latency_ms))
        fields.update(_present(provider_id=provider_id))
        return await self._transition(
            message_id, "sent", now, due="-", fields=fields, record=record
        )

    async def mark_retry(
        self,
        message_id: str,
        due: datetime,
        error: str,
        now: datetime,
        *,
        status_code: int | None = None,
    ) -> bool:
        fields: dict[str, Any] = {"state": MessageState.QUEUED.value, "error": error[:500]}
        fields.update(_present(status_code=status_code))
        return await self._transition(
            message_id, "retry", now, due=str(to_score(due)), fields=fields
        )

    async def mark_failed(
        self,
        message_id: str,
        reason: str,
        now: datetime,
        *,
        status_code: int | None = None,
        record: bytes = b"",
    ) -> bool:
        fields: dict[str, Any] = {"state": MessageState.FAILED.value, "reason": reason[:500]}
        fields.update(_present(status_code=status_code))
        return await self._transition(
            message_id, "failed", now, due="-", fields=fields, record=record
        )

    async def mark_suppressed(
        self, message_id: str, reason: str, now: datetime, *, record: bytes = b""
    ) -> bool:
        fields = {"state": MessageState.SUPPRESSED.value, "reason": reason[:500]}
        return await self._transition(
            message_id, "suppressed", now, due="-", fields=fields, record=record
        )

    async def reschedule(
        self, message_id: str, due: datetime, now: datetime, *, lease: int | None = None
    ) -> bool:
        """Try again at ``due`` without counting an attempt (breaker open, endpoint paused, an
        earlier message of its lane still pending, its dispatcher stopping). With ``lease`` (the
        :attr:`Entry.lease` it was taken with) only if that lease still holds."""
        return await self._transition(
            message_id, "reschedule", now, due=str(to_score(due)), lease=lease
        )

    async def requeue(self, message_id: str, now: datetime) -> bool:
        """Manual re-send: queued, due now, attempts kept, the same message id (so a receiver
        that already has it deduplicates). The retry horizon starts again."""
        fields = {"state": MessageState.QUEUED.value, "manual": 1}
        return await self._transition(
            message_id, "requeue", now, due=str(to_score(now)), fields=fields
        )

    async def _transition(
        self,
        message_id: str,
        op: str,
        now: datetime,
        *,
        due: str = "",
        fields: Mapping[str, Any] | None = None,
        record: bytes = b"",
        lease: int | None = None,
    ) -> bool:
        keys = [self.record_key(message_id), self.due_key, self.records_key]
        held = "" if lease is None else str(lease)
        args: list[Any] = [message_id, op, to_score(now), self.keep_s, due, record, held]
        for name, value in (fields or {}).items():
            args += [name, value]
        return bool(await self._mark(keys=keys, args=args))

    async def due_count(self) -> int:
        count: int = await self.client.zcard(self.due_key)
        return count

    # the record outbox ------------------------------------------------------------------------

    async def take_records(self, now: datetime, limit: int, lease_s: float) -> list[bytes]:
        """Up to ``limit`` outcome records to publish, leased like messages."""
        lease = to_score(now + timedelta(seconds=lease_s))
        taken = await self._take(keys=[self.records_key], args=[to_score(now), limit, lease])
        return [bytes(x) if not isinstance(x, str) else x.encode() for x in taken]

    async def records_done(self, records: Sequence[bytes]) -> None:
        if records:
            await self.client.zrem(self.records_key, *records)

    # endpoints --------------------------------------------------------------------------------

    async def failing_since(
        self, subscription_id: str, now: datetime, *, gap_s: float = 0.0
    ) -> datetime:
        """Record a failure of the subscription; returns since when it has failed throughout.
        With ``gap_s``, a failure more than ``gap_s`` after the previous one starts afresh (the
        endpoint was not tried in between, so nothing says it failed throughout)."""
        args = [subscription_id, to_score(now), round(gap_s * 1000)]
        since = await self._failing(keys=[self.failing_key], args=args)
        return from_score(int(since))

    async def succeeded(self, subscription_id: str) -> None:
        await self.client.hdel(self.failing_key, subscription_id)

    async def endpoints(self) -> tuple[dict[str, str], set[str]]:
        """Every lane's hold and every failing subscription, in one round trip (both are small:
        only lanes with a message waiting for a retry, only endpoints failing now)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.hold_key)
            pipe.hkeys(self.failing_key)
            holds, failing = await pipe.execute()
        lanes = {_text(lane): _text(head) for lane, head in holds.items()}
        return lanes, {_text(sub) for sub in failing}

    async def holder(self, lane: str) -> str | None:
        value = await self.client.hget(self.hold_key, lane)
        return None if value is None else _text(value)

    async def hold(self, lane: str, message_id: str) -> str:
        """Make ``message_id`` the lane's head unless another message is; returns the head."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self.hold_key, lane, message_id)
            pipe.hget(self.hold_key, lane)
            _, head = await pipe.execute()
        return _text(head)

    async def release(self, lane: str, message_id: str) -> None:
        await self._release(keys=[self.hold_key], args=[lane, message_id])

    # orders waiting for their contacts -------------------------------------------------------

    async def defer(self, order_id: str, due: datetime, now: datetime) -> datetime:
        """Plan ``order_id`` again at ``due``; returns when it was first deferred."""
        first = await self._defer(
            keys=[self.pending_key, self.pending_first_key],
            args=[order_id, to_score(due), to_score(now)],
        )
        return from_score(int(first))

    async def expedite(self, order_id: str, now: datetime) -> None:
        """An order waiting for its contacts is planned at once (they just arrived)."""
        await self.client.zadd(self.pending_key, {order_id: to_score(now)}, xx=True)

    async def take_pending(self, now: datetime, limit: int, lease_s: float) -> list[str]:
        lease = to_score(now + timedelta(seconds=lease_s))
        taken = await self._take(keys=[self.pending_key], args=[to_score(now), limit, lease])
        return [_text(x) for x in taken]

    async def undefer(self, order_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(self.pending_key, order_id)
            pipe.hdel(self.pending_first_key, order_id)
            await pipe.execute()

    # erasure ----------------------------------------------------------------------------------

    async def forget(self, order_id: str) -> int:
        """Erasure: the order's message records (they name the recipient), its list and its due
        messages go; returns the messages removed. Its ``handled`` entries stay: they hold no
        personal data and keep a later change of the order from sending old milestones again."""
        listed: list[Any] = await self.client.zrange(self.order_key(order_id), 0, -1)
        ids = [_text(x) for x in listed]
        async with self.client.pipeline(transaction=True) as pipe:
            for message_id in ids:
                pipe.delete(self.record_key(message_id))
            if ids:
                pipe.zrem(self.due_key, *ids)
            pipe.delete(self.order_key(order_id))
            pipe.zrem(self.pending_key, order_id)
            pipe.hdel(self.pending_first_key, order_id)
            await pipe.execute()
        return len(ids)

    # reading records --------------------------------------------------------------------------

    async def _entries(self, ids: Sequence[str]) -> list[Entry | None]:
        if not ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hgetall(self.record_key(message_id))
            raws = await pipe.execute()
        return [_entry(i, raw) for i, raw in zip(ids, raws, strict=True)]


def _entry(message_id: str, raw: Mapping[Any, Any]) -> Entry | None:
    fields = {_text(name): _text(value) for name, value in raw.items()}
    spec = fields.get("spec")
    if not spec:
        return None
    try:
        message = message_from_json(spec)
        state = MessageState(fields.get("state", MessageState.QUEUED.value))
    except (ValueError, KeyError, TypeError) as error:
        # a record this version cannot read: left out (and out of the due set), never a crash
        log.warning("skipping ledger record %s that does not decode: %s", message_id, error)
        return None
    return Entry(
        message_id=message_id,
        message=message,
        state=state,
        attempts=int(fields.get("attempts") or 0),
        planned_at=_time(fields.get("planned_at")),
        first_try=_time(fields.get("first_try")),
        due=_time(fields.get("due")),
        reason=fields.get("reason") or None,
        error=fields.get("error") or None,
        status_code=_int(fields.get("status_code")),
        latency_ms=_float(fields.get("latency_ms")),
        provider_id=fields.get("provider_id") or None,
        sent_at=_time(fields.get("sent_at")),
        manual=fields.get("manual") == "1",
        updated=_time(fields.get("updated")),
    )


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _time(value: str | None) -> datetime | None:
    return None if not value else from_score(int(float(value)))


def _int(value: str | None) -> int | None:
    return None if not value else int(float(value))


def _float(value: str | None) -> float | None:
    return None if not value else float(value)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
