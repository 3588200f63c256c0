"""The agent console's index: orders by order number and by e-mail hash, and the exception queue.

A projection of timelines, written by the timeline store right after each commit
(:mod:`projections.redis_index`: the commit's state keeps a digest of the entries written, set
last, so an interrupted write is redone by the order's next commit), so it is complete whatever
API processes were running; API processes only read it (:class:`AgentIndex`). It is derived from
timelines only, so writing it is idempotent and order-independent.

Keys (see :mod:`projections.redis_keys`; the queue's two keys share the ``{idx}`` hash tag)::

    P:api:idx:number:NUMBER   set   order ids with this (normalised) order number
    P:api:idx:email:SHA256    set   order ids of this e-mail hash
    P:{idx}:exceptions        hash  exception id -> row (JSON, see :func:`exception_rows`)
    P:{idx}:resolved          zset  exception id -> resolved time; rows past the keep are dropped

A commit that changes exception rows announces them in its change summary on ``P:agents``
(``"exceptions": [row, …]``), which the API's websocket hub passes on to agent feeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis

from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, text
from projections.redis_upgrade import adopt_legacy_keys
from wismo.ids import email_hash
from wismo.vocab import ExceptionState, Severity

Row = dict[str, Any]
#: how long a resolved exception stays in the queue's hash (the queue lists open ones by default)
RESOLVED_KEEP_S = 7 * 86400
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
    "assignee",
    "assigned_at",
    "assigned_by",
    "escalated_at",
    "escalated_by",
    "escalation_reason",
    "escalated_to",
    "notes_count",
)


def _carrier_of(timeline: Mapping[str, Any], subject: str | None) -> str | None:
    shipments = timeline.get("shipments") or []
    for shipment in shipments:
        if subject in (shipment.get("shipment_id"), shipment.get("tracking_number")):
            return shipment.get("carrier")  # type: ignore[no-any-return]
    return None


def _escalation_stands(view: Mapping[str, Any]) -> bool:
    """As :func:`projections.agent_work.escalation_stands`, on the JSON form."""
    at = _moment(view.get("escalated_at"))
    if at is None:
        return False
    return not any(
        (later := _moment(view.get(name))) is not None and later > at
        for name in ("resolved_at", "opened_at")
    )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def exception_rows(timeline: Mapping[str, Any]) -> list[Row]:
    """One queue row per exception of the timeline (its JSON form)."""
    rows = []
    for view in timeline.get("exceptions") or []:
        row = {name: view.get(name) for name in _ROW_FIELDS}
        row["order_id"] = timeline.get("order_id")
        row["order_number"] = timeline.get("order_number")
        row["brand"] = timeline.get("brand")  # in the row, so a brand change rewrites it
        row["carrier"] = _carrier_of(timeline, view.get("subject"))
        row["escalated"] = _escalation_stands(view)
        row["case_number"] = (view.get("case") or {}).get("case_number")
        rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class IndexEntries:
    """What one committed timeline puts in the index (computed without Redis)."""

    order_number: str | None
    email_sha256: str | None
    rows: list[tuple[str, bytes, str]]
    """(exception id, row JSON, resolved time as epoch seconds or "")."""


def index_entries(
    order_number: str | None, email_sha256: str | None, timeline: Mapping[str, Any] | None
) -> IndexEntries:
    """The entries of a timeline; ``timeline`` (its JSON form, or at least what
    :func:`exception_rows` reads of it) only when it has exceptions."""
    rows = []
    for row in exception_rows(timeline) if timeline else []:
        resolved = row.get("resolved_at")
        score = repr(datetime.fromisoformat(resolved).timestamp()) if resolved else ""
        rows.append((str(row["exception_id"]), orjson.dumps(row), score))
    return IndexEntries(order_number or None, email_sha256 or None, rows)


#: the assignee filter that asks for the unassigned queue
UNASSIGNED = ""


@dataclass(frozen=True, slots=True)
class ExceptionQuery:
    states: frozenset[str] = frozenset({ExceptionState.OPEN, ExceptionState.ACKNOWLEDGED})
    types: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    carriers: frozenset[str] = frozenset()
    min_age_s: float | None = None
    max_age_s: float | None = None
    limit: int = 100
    assignee: str | None = None
    """Only the exceptions of this agent (:data:`UNASSIGNED`: only those of no one)."""
    escalated: bool | None = None
    brands: frozenset[str] | None = None
    """Only the exceptions of orders of these brands (None: any brand, and unbranded orders)."""


def visible(rows: Iterable[Row], brands: frozenset[str] | None) -> list[Row]:
    """The rows of orders of ``brands`` (None: every row); an unbranded order is of no brand."""
    return [row for row in rows if brands is None or row.get("brand") in brands]


def _age_s(row: Row, now: datetime) -> float | None:
    opened = row.get("opened_at")
    if not opened:
        return None
    return (now - datetime.fromisoformat(opened)).total_seconds()


def _matches(row: Row, query: ExceptionQuery, now: datetime) -> bool:
    if row.get("state") not in query.states:
        return False
    if query.brands is not None and row.get("brand") not in query.brands:
        return False
    for wanted, field in (
        (query.types, "type"),
        (query.severities, "severity"),
        (query.carriers, "carrier"),
    ):
        if wanted and row.get(field) not in wanted:
            return False
    if query.assignee is not None and (row.get("assignee") or "") != query.assignee:
        return False
    if query.escalated is not None and bool(row.get("escalated")) != query.escalated:
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


def with_age(rows: Iterable[Row], now: datetime) -> list[Row]:
    """The rows with ``age_s``: seconds since the exception (re)opened, None when unknown."""
    return [{**row, "age_s": _age_s(row, now)} for row in rows]


def team_queue(rows: Iterable[Row], now: datetime, *, by_assignee: bool = False) -> dict[str, Any]:
    """The supervisors' view: every open or acknowledged exception with its assignee and age,
    oldest first (``by_assignee``: grouped by assignee, unassigned last, each oldest first), and
    per assignee (None: unassigned) how many and the oldest."""
    waiting = [row for row in rows if row.get("state") in ExceptionQuery().states]
    dated = with_age(waiting, now)
    dated.sort(key=lambda r: (r["age_s"] is None, -(r["age_s"] or 0), r.get("exception_id") or ""))
    if by_assignee:  # stable: oldest first within each assignee
        dated.sort(key=lambda r: (r.get("assignee") is None, r.get("assignee") or ""))
    groups: dict[str | None, dict[str, Any]] = {}
    for row in dated:
        assignee = row.get("assignee")
        group = groups.setdefault(
            assignee,
            {"assignee": assignee, "count": 0, "open": 0, "escalated": 0, "oldest_age_s": None},
        )
        group["count"] += 1
        group["open"] += row.get("state") == ExceptionState.OPEN
        group["escalated"] += bool(row.get("escalated"))
        if group["oldest_age_s"] is None:
            group["oldest_age_s"] = row["age_s"]
    assignees = sorted(groups.values(), key=lambda g: (g["assignee"] is None, g["assignee"] or ""))
    return {
        "as_of": now.isoformat(),
        "total": len(dated),
        "unassigned": groups.get(None, {}).get("count", 0),
        "assignees": assignees,
        "exceptions": dated,
    }


class AgentIndex:
    """Reads of the index (a client the caller owns)."""

    def __init__(self, client: aioredis.Redis, prefix: str | RedisKeys, *, url: str = "redis"):
        self.keys = prefix if isinstance(prefix, RedisKeys) else RedisKeys(prefix)
        self._pipes = RedisPipes(client, url)
        self._adopted = False

    async def _adopt(self) -> None:
        """Move the queue from its former keys once (:mod:`projections.redis_upgrade`)."""
        if not self._adopted:
            await adopt_legacy_keys(self._pipes, self.keys)
            self._adopted = True

    async def _rows(self, exception_ids: Sequence[str]) -> dict[str, Row]:
        await self._adopt()
        async with self._pipes.talking():
            found = await self._pipes.client.hmget(self.keys.index_exceptions, list(exception_ids))
        return {i: orjson.loads(raw) for i, raw in zip(exception_ids, found, strict=True) if raw}

    async def exception(self, exception_id: str) -> Row | None:
        return (await self._rows([exception_id])).get(exception_id)

    async def exceptions(self) -> list[Row]:
        await self._adopt()
        async with self._pipes.talking():
            stored = await self._pipes.client.hgetall(self.keys.index_exceptions)
        return [orjson.loads(raw) for raw in stored.values()]

    async def orders_by_number(self, order_number: str) -> list[str]:
        return await self._members(self.keys.index_number(order_number))

    async def orders_by_email(self, email: str) -> list[str]:
        return await self._members(self.keys.index_email(email_hash(email)))

    async def _members(self, key: str) -> list[str]:
        async with self._pipes.talking():
            members = await self._pipes.client.smembers(key)
        return sorted(text(m) for m in members)
