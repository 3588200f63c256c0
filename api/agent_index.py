"""Indexes the agent console needs and the timeline store does not keep: orders by order number
and by e-mail hash, and every exception with its current state (the queue).

They are derived from timelines only, so indexing is idempotent and order-independent: the API
re-indexes an order whenever the store announces a change on its agents channel (see
:mod:`api.changes`). Several API processes index the same change harmlessly. The first API
process on a store indexes the orders it already holds; orders that change while no API process
runs are indexed on their next change.

Keys (``P`` is the Redis prefix)::

    P:api:idx:number:NUMBER   set   order ids with this (normalised) order number
    P:api:idx:email:SHA256    set   order ids of this e-mail hash
    P:api:idx:exceptions      hash  exception id -> row (JSON, see :func:`exception_rows`)
    P:api:idx:resolved        zset  exception id -> resolved time; rows past the keep are dropped
    P:api:idx:backfilled      string when the one-off indexing of pre-existing orders started
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis

from projections.lookup import normalise_order_number
from wismo.ids import email_hash
from wismo.vocab import ExceptionState, Severity

Row = dict[str, Any]
_SEVERITY_RANK = {s.value: rank for rank, s in enumerate(Severity)}
_ROW_FIELDS = (
    "exception_id",
    "state",
    "type",
    "severity",
    "owner",
    "subject",
    "reason",
    "message",
    "opened_at",
    "acknowledged_at",
    "resolved_at",
    "acknowledged_by",
    "resolved_by",
    "note",
)


def _carrier_of(timeline: Mapping[str, Any], subject: str | None) -> str | None:
    shipments = timeline.get("shipments") or []
    for shipment in shipments:
        if subject in (shipment.get("shipment_id"), shipment.get("tracking_number")):
            return shipment.get("carrier")  # type: ignore[no-any-return]
    return None


def exception_rows(timeline: Mapping[str, Any]) -> list[Row]:
    """One queue row per exception of the timeline."""
    rows = []
    for view in timeline.get("exceptions") or []:
        row = {name: view.get(name) for name in _ROW_FIELDS}
        row["order_id"] = timeline.get("order_id")
        row["order_number"] = timeline.get("order_number")
        row["carrier"] = _carrier_of(timeline, view.get("subject"))
        rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class ExceptionQuery:
    states: frozenset[str] = frozenset({ExceptionState.OPEN, ExceptionState.ACKNOWLEDGED})
    types: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    carriers: frozenset[str] = frozenset()
    min_age_s: float | None = None
    max_age_s: float | None = None
    limit: int = 100


def _age_s(row: Row, now: datetime) -> float | None:
    opened = row.get("opened_at")
    if not opened:
        return None
    return (now - datetime.fromisoformat(opened)).total_seconds()


def _matches(row: Row, query: ExceptionQuery, now: datetime) -> bool:
    if row.get("state") not in query.states:
        return False
    for wanted, field in (
        (query.types, "type"),
        (query.severities, "severity"),
        (query.carriers, "carrier"),
    ):
        if wanted and row.get(field) not in wanted:
            return False
    if query.min_age_s is None and query.max_age_s is None:
        return True
    age = _age_s(row, now)
    if age is None:
        return False
    return (query.min_age_s is None or age >= query.min_age_s) and (
        query.max_age_s is None or age <= query.max_age_s
    )


def select_exceptions(rows: Iterable[Row], query: ExceptionQuery, now: datetime) -> list[Row]:
    """The rows the query asks for: most severe first, then the longest waiting."""
    chosen = [row for row in rows if _matches(row, query, now)]
    chosen.sort(
        key=lambda r: (
            -_SEVERITY_RANK.get(r.get("severity") or "", -1),
            r.get("opened_at") or "",
            r.get("exception_id") or "",
        )
    )
    return chosen[: query.limit]


class AgentIndex:
    def __init__(
        self, client: aioredis.Redis, prefix: str, *, resolved_keep_s: float = 7 * 86400
    ) -> None:
        self.client = client
        self.base = f"{prefix}:api:idx"
        self.exceptions_key = f"{self.base}:exceptions"
        self.resolved_key = f"{self.base}:resolved"
        self.resolved_keep_s = resolved_keep_s
        self.backfill_key = f"{self.base}:backfilled"

    async def claim_backfill(self, now: datetime) -> bool:
        return bool(await self.client.set(self.backfill_key, now.isoformat(), nx=True))

    def number_key(self, order_number: str) -> str:
        return f"{self.base}:number:{normalise_order_number(order_number)}"

    def email_key(self, sha256: str) -> str:
        return f"{self.base}:email:{sha256}"

    async def index(self, timelines: Sequence[Mapping[str, Any]], now: datetime) -> list[Row]:
        """Index the timelines; returns the exception rows that are new or changed."""
        rows = [row for timeline in timelines for row in exception_rows(timeline)]
        before = await self._rows([row["exception_id"] for row in rows]) if rows else {}
        changed = [row for row in rows if before.get(row["exception_id"]) != row]
        async with self.client.pipeline(transaction=False) as pipe:
            for timeline in timelines:
                order_id = timeline["order_id"]
                if timeline.get("order_number"):
                    pipe.sadd(self.number_key(timeline["order_number"]), order_id)
                if timeline.get("customer_email_sha256"):
                    pipe.sadd(self.email_key(timeline["customer_email_sha256"]), order_id)
            for row in changed:
                pipe.hset(self.exceptions_key, row["exception_id"], orjson.dumps(row))
                if row.get("resolved_at"):
                    resolved = datetime.fromisoformat(row["resolved_at"]).timestamp()
                    pipe.zadd(self.resolved_key, {row["exception_id"]: resolved})
            await pipe.execute()
        await self._forget_resolved_before(now.timestamp() - self.resolved_keep_s)
        return changed

    async def _forget_resolved_before(self, cutoff: float) -> None:
        old = await self.client.zrangebyscore(self.resolved_key, "-inf", cutoff)
        if old:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hdel(self.exceptions_key, *old)
                pipe.zrem(self.resolved_key, *old)
                await pipe.execute()

    async def _rows(self, exception_ids: Sequence[str]) -> dict[str, Row]:
        found = await self.client.hmget(self.exceptions_key, list(exception_ids))
        return {i: orjson.loads(raw) for i, raw in zip(exception_ids, found, strict=True) if raw}

    async def exception(self, exception_id: str) -> Row | None:
        return (await self._rows([exception_id])).get(exception_id)

    async def exceptions(self) -> list[Row]:
        return [
            orjson.loads(raw) for raw in (await self.client.hgetall(self.exceptions_key)).values()
        ]

    async def orders_by_number(self, order_number: str) -> list[str]:
        return sorted(_text(m) for m in await self.client.smembers(self.number_key(order_number)))

    async def orders_by_email(self, email: str) -> list[str]:
        members = await self.client.smembers(self.email_key(email_hash(email)))
        return sorted(_text(m) for m in members)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
