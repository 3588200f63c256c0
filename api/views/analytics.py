"""``GET /v1/analytics/sla``: the delivery KPIs of :mod:`projections.sla` for the SLA page.

The report runs on a ClickHouse handle of this process (its one worker thread, never the event
loop). With a ClickHouse server any API process may open one. With chDB only the process that
holds the chDB path (the one running the ``warehouse`` role, e.g. ``wismo up``) can answer:
another process would either fail on the path's lock or, worse, take the lock from the writer;
so the API only joins an engine that is already open and otherwise answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from dataclasses import dataclass, field
from datetime import date

from aiohttp import web

from api.auth import READ_ROLES
from api.errors import BadRequest, Unavailable
from api.keys import SETTINGS
from api.views.agent import agent
from api.views.respond import json
from projections.clickhouse_store import ClickHouse
from projections.errors import StoreError
from projections.sla import SECTIONS, InvalidGrouping, SlaQuery, sla_report
from wismo.settings import Settings

MAX_DAYS = 731
#: the dates a report may cover: what ClickHouse's date types and the day after ``to`` can hold
EARLIEST, LATEST = date(1970, 1, 1), date(2100, 12, 31)


@dataclass
class _Handle:
    """This process's ClickHouse for analytics, opened on first use."""

    ch: ClickHouse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


HANDLE = web.AppKey("analytics_clickhouse", _Handle)


def add_routes(app: web.Application) -> None:
    app[HANDLE] = _Handle()
    app.on_cleanup.append(_close)
    app.router.add_get("/v1/analytics/sla", sla)


async def _close(app: web.Application) -> None:
    handle = app[HANDLE]
    if handle.ch is not None:
        await handle.ch.close()
        handle.ch = None


def _date(request: web.Request, name: str) -> date:
    raw = request.query.get(name)
    if not raw:
        raise BadRequest(f"{name} is required (YYYY-MM-DD)")
    try:
        value = date.fromisoformat(raw)
    except ValueError as error:
        raise BadRequest(f"{name} must be a date like 2026-03-02, not {raw!r}") from error
    if not EARLIEST <= value <= LATEST:
        raise BadRequest(f"{name} must be between {EARLIEST} and {LATEST}")
    return value


def _names(request: web.Request, name: str) -> tuple[str, ...]:
    values = (v.strip() for raw in request.query.getall(name, []) for v in raw.split(","))
    return tuple(dict.fromkeys(v for v in values if v))


def sla_query(request: web.Request) -> tuple[SlaQuery, tuple[str, ...]]:
    start, end = _date(request, "from"), _date(request, "to")
    if (end - start).days > MAX_DAYS:
        raise BadRequest(f"the period may span at most {MAX_DAYS} days")
    try:
        query = SlaQuery(start, end, _names(request, "by"))
    except InvalidGrouping as error:
        raise BadRequest(str(error)) from error
    sections = _names(request, "section") or SECTIONS
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise BadRequest(f"unknown section {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    return query, sections


def chdb_is_open(settings: Settings) -> bool:
    """Whether some process holds the chDB path (the engine keeps ``status`` locked)."""
    status = settings.chdb_path / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


async def _clickhouse(app: web.Application) -> ClickHouse:
    handle, settings = app[HANDLE], app[SETTINGS]
    async with handle.lock:
        if handle.ch is not None:
            return handle.ch
        embedded = settings.clickhouse.url is None
        if embedded and not chdb_is_open(settings):
            raise Unavailable(
                "analytics need ClickHouse: no process holds the chDB path "
                f"{settings.chdb_path}; run the warehouse role with the api role "
                "(wismo up) or configure a ClickHouse server",
                retry_after_s=30,
            )
        try:
            handle.ch = await ClickHouse.connect(settings, migrate_schema=False)
        except StoreError as error:
            where = "another process holds the chDB path" if embedded else "it is unreachable"
            raise Unavailable(f"analytics need ClickHouse and {where}: {error}") from error
        return handle.ch


async def sla(request: web.Request) -> web.Response:
    agent(request, READ_ROLES)
    query, sections = sla_query(request)
    ch = await _clickhouse(request.app)
    try:
        report = await ch.run(sla_report, ch.client, ch.database, query, sections)
    except StoreError as error:
        raise Unavailable(
            f"the SLA report failed on ClickHouse: {error}", retry_after_s=5
        ) from error
    return json(report.as_dict())  # Cache-Control: no-store, as every agent answer (guards)
