"""``GET /v1/analytics/sla``: the delivery KPIs of :mod:`projections.sla` for the SLA page, the
notification KPIs (sections ``notify_*``, :mod:`projections.sla_notifications`) for its
notifications panel, and the agents' response times (section ``agent_response``,
:mod:`projections.sla_agents`) for its agent-response panel.

The report runs on this process's ClickHouse handle (:mod:`api.clickhouse`): with chDB only the
process that holds the chDB path can answer; elsewhere the answer is 503 with the reason.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from api.auth import READ_ROLES, Agent
from api.clickhouse import clickhouse
from api.errors import BadRequest, NotFound, Unavailable
from api.keys import SETTINGS
from api.views.agent import agent
from api.views.respond import json
from projections.errors import StoreError
from projections.predict.accuracy import AccuracyQuery, accuracy_rows
from projections.sla import ALL_SECTIONS, InvalidGrouping, SlaQuery, sla_report

MAX_DAYS = 731
#: the dates a report may cover: what ClickHouse's date types and the day after ``to`` can hold
EARLIEST, LATEST = date(1970, 1, 1), date(2100, 12, 31)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/analytics/sla", sla)
    app.router.add_get("/v1/analytics/predictions", predictions)


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


def report_brands(asked: tuple[str, ...], who: Agent) -> frozenset[str] | None:
    """The brands a report covers: those asked (``?brand=``), else every brand the agent sees
    (None: every order, for an agent without a brand restriction). A restricted agent asking for
    a brand outside their own gets 404, as for an order of that brand (no oracle)."""
    if not asked:
        return who.brands
    if who.brands is not None and not set(asked) <= who.brands:
        raise NotFound("no such brand")
    return frozenset(asked)


def brand_options(request: web.Request, who: Agent) -> list[dict[str, str]]:
    """The configured brands this agent may report on (the page's brand select)."""
    brands = request.app[SETTINGS].brands
    return [{"id": b, "name": brands[b].name} for b in sorted(brands) if who.sees(b)]


def sla_query(request: web.Request, who: Agent) -> tuple[SlaQuery, tuple[str, ...]]:
    start, end = _date(request, "from"), _date(request, "to")
    if (end - start).days > MAX_DAYS:
        raise BadRequest(f"the period may span at most {MAX_DAYS} days")
    brands = report_brands(_names(request, "brand"), who)
    try:
        query = SlaQuery(start, end, _names(request, "by"), brands)
    except InvalidGrouping as error:
        raise BadRequest(str(error)) from error
    sections = _names(request, "section") or ALL_SECTIONS
    unknown = [s for s in sections if s not in ALL_SECTIONS]
    if unknown:
        raise BadRequest(f"unknown section {', '.join(unknown)}; known: {', '.join(ALL_SECTIONS)}")
    return query, sections


async def sla(request: web.Request) -> web.Response:
    who = agent(request, READ_ROLES)
    query, sections = sla_query(request, who)
    ch = await clickhouse(request.app)
    try:
        report = await ch.run(sla_report, ch.client, ch.database, query, sections)
    except StoreError as error:
        raise Unavailable(
            f"the SLA report failed on ClickHouse: {error}", retry_after_s=5
        ) from error
    answer = {**report.as_dict(), "brand_options": brand_options(request, who)}
    return json(answer)  # Cache-Control: no-store, as every agent answer (guards)


async def predictions(request: web.Request) -> web.Response:
    """wismo's estimates against the delivery days, per carrier (projections.predict.accuracy):
    shipments delivered from ``from`` to ``to``."""
    agent(request, READ_ROLES)
    start, end = _date(request, "from"), _date(request, "to")
    if (end - start).days > MAX_DAYS:
        raise BadRequest(f"the period may span at most {MAX_DAYS} days")
    ch = await clickhouse(request.app)
    try:
        rows = await ch.run(accuracy_rows, ch.client, ch.database, AccuracyQuery(start, end))
    except StoreError as error:
        raise Unavailable(
            f"the predictions report failed on ClickHouse: {error}", retry_after_s=5
        ) from error
    return json({"from": start.isoformat(), "to": end.isoformat(), "carriers": rows})
