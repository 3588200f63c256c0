"""Erasure of a person's data: by order id, e-mail or phone, in ClickHouse and Redis, audited.

1. **Find** the orders: the one named, or every order with an event whose free text holds the
   e-mail or phone (:func:`projections.anonymise.mentions`: ClickHouse narrows the search, Python
   decides), plus the orders the agent index lists under the e-mail's hash.
2. **Anonymise** each order's events (:func:`projections.anonymise.anonymise`): every logged copy
   in ClickHouse and every event Redis holds (the log may not have received them all yet).
3. **ClickHouse**: the logged copies — and unlinked scans that mention the value — are rewritten in
   place by one synchronous mutation; each order's timeline, shipment and exception rows are
   replaced by those of its refolded, anonymised timeline, so the SLA KPIs still count it.
4. **Redis** (:mod:`projections.erasure_redis`): the order's keys, lookup keys and agent index
   entries are removed and the order written again from its anonymised events.
5. **Audit**: one row in ``{db}.erasures`` — id, time, who, the kind of subject, the orders and
   counts; never the erased value.

Runs where ClickHouse can be opened (any process with a ClickHouse server; with chDB the process
holding its path, docs/adr/0003). Events carrying the person's data that arrive later are stored
as they come: the sources must stop sending them. Kafka keeps raw payloads for its own retention.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from projections.anonymise import (
    MIN_PHONE_DIGITS,
    anonymise,
    mentions,
    payment_stand_ins,
    phone_digits,
    phone_values,
)
from projections.clickhouse_store import COLUMNS, ClickHouse
from projections.erasure_redis import erase_from_redis
from projections.facts import change_rows
from projections.notify.erasure import blank_recipients, forget_in_redis
from projections.redis_pipes import as_bytes
from projections.redis_store import RedisTimelineStore
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from wismo.events import dump_event, parse_event

SubjectKind = Literal["order", "email", "phone"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("order", "email", "phone")
#: one logged copy of an event: "event_id/linked" → its JSON
Logged = dict[str, str]

_FIND = """
SELECT DISTINCT order_id FROM {db}.events
WHERE order_id != ''
  AND arrayExists(v -> positionCaseInsensitive(event_json, v) > 0, {values:Array(String)})
"""
_ORDER_ROWS = """
SELECT concat(event_id, '/', toString(linked)), event_json FROM {db}.events
WHERE order_id = {order:String}
   OR (order_id = '' AND tracking_number IN
       (SELECT arrayJoin(links) FROM {db}.events WHERE order_id = {order:String}))
"""
_UNLINKED_ROWS = """
SELECT concat(event_id, '/', toString(linked)), event_json FROM {db}.events
WHERE order_id = ''
  AND arrayExists(v -> positionCaseInsensitive(event_json, v) > 0, {values:Array(String)})
"""
_REWRITE = """
ALTER TABLE {db}.events UPDATE event_json = transform(
    concat(event_id, '/', toString(linked)), {keys:Array(String)}, {docs:Array(String)}, event_json)
WHERE concat(event_id, '/', toString(linked)) IN {keys:Array(String)}
SETTINGS mutations_sync = 2
"""
_DROP_FACTS = """
ALTER TABLE {db}.{table} DELETE WHERE order_id IN {orders:Array(String)}
SETTINGS mutations_sync = 2
"""


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    value: str

    @classmethod
    def of(cls, kind: str, value: str) -> Subject:
        """A subject from what a caller typed; raises :class:`ValueError` with the reason."""
        value = value.strip()
        if kind == "order" and value:
            return cls("order", value)
        if kind == "email" and "@" in value[1:-1]:
            return cls("email", value)
        if kind == "phone" and len(phone_digits(value)) >= MIN_PHONE_DIGITS:
            return cls("phone", value)
        if kind not in SUBJECT_KINDS:
            raise ValueError(f"erase by one of {', '.join(SUBJECT_KINDS)}, not {kind!r}")
        raise ValueError(
            {
                "order": "the order id is empty",
                "email": "that is not an e-mail address",
                "phone": f"a phone number needs at least {MIN_PHONE_DIGITS} digits",
            }[kind]
        )

    @property
    def values(self) -> list[str]:
        """What is searched for and redacted in free text (nothing for an order id)."""
        if self.kind == "email":
            return [self.value.strip()]
        if self.kind == "phone":
            return phone_values(self.value)
        return []


@dataclass(slots=True)
class ErasureReport:
    """What an erasure did; also its audit row (which never holds the erased value)."""

    erasure_id: str
    requested_at: datetime
    requested_by: str
    subject: SubjectKind
    orders: list[str] = field(default_factory=list)
    events: int = 0
    """Logged event copies rewritten in ClickHouse."""
    redis_keys: int = 0
    """Redis keys and index entries removed."""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "requested_at": self.requested_at.isoformat()}


@dataclass(slots=True)
class OrderErasure:
    """One order's anonymised events, as logged copies and as the union Redis is rebuilt from."""

    order_id: str
    logged: Logged
    documents: list[str]
    change: TimelineChange


def _canonical(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(documents, key=lambda d: (str(d.get("occurred_at")), str(d.get("event_id"))))


def plan_order(
    order_id: str, logged: Mapping[str, str], held: Sequence[bytes], values: Sequence[str]
) -> OrderErasure:
    """Anonymise an order's logged copies and Redis-held events (pure)."""
    parsed = {key: orjson.loads(document) for key, document in logged.items()}
    from_redis = [orjson.loads(document) for document in held]
    payments = payment_stand_ins(_canonical([*parsed.values(), *from_redis]))
    rewritten = {
        key: orjson.dumps(anonymise(doc, values, payments)).decode() for key, doc in parsed.items()
    }
    union = {
        **{d["event_id"]: d for d in from_redis},
        **{d["event_id"]: d for d in parsed.values()},
    }
    documents = [orjson.dumps(anonymise(d, values, payments)).decode() for d in union.values()]
    events = [parse_event(document) for document in documents]
    timeline = fold(events, order_id)
    change = TimelineChange(
        order_id,
        timeline.version,
        timeline.digest,
        timeline.status.value,
        timeline_to_json(timeline),
    )
    return OrderErasure(order_id, rewritten, documents, change)


class Erasure:
    """Erases subjects from a ClickHouse log and a Redis store the caller owns."""

    def __init__(self, ch: ClickHouse, redis: RedisTimelineStore) -> None:
        self.ch = ch
        self.redis = redis

    async def run(self, subject: Subject, requested_by: str, now: datetime) -> ErasureReport:
        report = ErasureReport(uuid.uuid4().hex, now, requested_by, subject.kind)
        values = subject.values
        plans, before = [], {}
        for order_id in await self._candidates(subject):
            logged = dict(await self.ch.rows(_ORDER_ROWS, order=order_id))
            held = [dump_event(e) for e in await self.redis.events(order_id)]
            if not logged and not held:
                continue  # no such order: nothing to erase, nothing to create
            if subject.kind == "email" and order_id not in await self._indexed(subject):
                named = [*map(orjson.loads, logged.values()), *map(orjson.loads, held)]
                if not any(mentions(d, values) for d in named):
                    continue
            elif subject.kind == "phone" and not any(
                mentions(orjson.loads(d), values) for d in [*logged.values(), *held]
            ):
                continue
            plans.append(plan_order(order_id, logged, held, values))
            before[order_id] = await self._timelines(order_id)
        rewritten = await self._unlinked(values)
        for plan in plans:
            rewritten |= plan.logged
        report.orders = [plan.order_id for plan in plans]
        await self._rewrite_log(rewritten)
        await self._replace_facts(plans, report.erasure_id)
        report.events = len(rewritten)
        report.redis_keys = await erase_from_redis(self.redis, plans, before, values)
        report.redis_keys += await forget_in_redis(
            self.redis.client, self.redis.keys.prefix, report.orders
        )
        await blank_recipients(self.ch, report.orders)
        await self._audit(report)
        return report

    async def _indexed(self, subject: Subject) -> set[str]:
        if subject.kind != "email":
            return set()
        return set(await self.redis.agent_index.orders_by_email(subject.value.strip()))

    async def _candidates(self, subject: Subject) -> list[str]:
        if subject.kind == "order":
            return [subject.value]
        found = {o for (o,) in await self.ch.rows(_FIND, values=subject.values)}
        return sorted(found | await self._indexed(subject))

    async def _unlinked(self, values: Sequence[str]) -> Logged:
        """Unlinked scans (no order yet) that mention a value, anonymised."""
        if not values:
            return {}
        rows = await self.ch.rows(_UNLINKED_ROWS, values=list(values))
        return {
            key: orjson.dumps(anonymise(orjson.loads(document), values, {})).decode()
            for key, document in rows
            if mentions(orjson.loads(document), values)
        }

    async def _rewrite_log(self, rewritten: Logged) -> None:
        if rewritten:
            await self.ch.run(
                self.ch.client.command,
                _REWRITE.replace("{db}", self.ch.database),
                parameters={"keys": list(rewritten), "docs": list(rewritten.values())},
            )

    async def _timelines(self, order_id: str) -> list[bytes]:
        """Every timeline of the order ClickHouse and Redis hold (for the index entries)."""
        rows = await self.ch.rows(
            "SELECT timeline_json FROM {db}.timelines WHERE order_id = {order:String}",
            order=order_id,
        )
        found = [str(document).encode() for (document,) in rows]
        held = await self.redis.client.hget(self.redis.keys.state(order_id), "json")
        return [*found, as_bytes(held)] if held else found

    async def _replace_facts(self, plans: Sequence[OrderErasure], erasure_id: str) -> None:
        """Each order's timeline and fact rows, replaced by those of its anonymised timeline."""
        if not plans:
            return
        orders = [plan.order_id for plan in plans]
        for table, rows in change_rows([plan.change for plan in plans]).items():
            sql = _DROP_FACTS.replace("{db}", self.ch.database).replace("{table}", table)
            await self.ch.run(self.ch.client.command, sql, parameters={"orders": orders})
            if rows:
                await self.ch.run(
                    self.ch.client.insert,
                    table,
                    rows,
                    column_names=list(COLUMNS[table]),
                    database=self.ch.database,
                    # a token of its own: the same rows may have been written (and erased) before
                    settings={"insert_deduplication_token": f"erasure:{erasure_id}:{table}"},
                )

    async def _audit(self, report: ErasureReport) -> None:
        row = [
            report.erasure_id,
            report.requested_at,
            report.requested_by,
            report.subject,
            report.orders,
            report.events,
            report.redis_keys,
        ]
        await self.ch.run(
            self.ch.client.insert,
            "erasures",
            [row],
            column_names=[
                "erasure_id", "requested_at", "requested_by", "subject", "orders", "events",
                "redis_keys",
            ],
            database=self.ch.database,
        )  # fmt: skip
