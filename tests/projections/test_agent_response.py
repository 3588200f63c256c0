"""Agent-response KPIs (``agent_response``) in ClickHouse (chDB) match a Python computation.

Timelines go through the warehouse's own path (timeline JSON → facts → ``exceptions`` rows),
each order at an earlier version first and at its final version twice; FINAL must keep one row
per exception. Automatic resolutions count apart and never in an agent's figures.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.facts import EXCEPTION_COLUMNS, exception_rows
from projections.serialize import timeline_to_json
from projections.sla import ALL_SECTIONS, SECTIONS, SlaQuery, section_sql, sla_report
from projections.sla_agents import AGENT_SECTIONS
from projections.store import TimelineChange
from projections.timeline_model import CaseView, ExceptionView, Timeline
from wismo.vocab import ExceptionState, ExceptionType, ProblemType

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 6
AGENTS = ("ana", "bo", "cy")
TYPES = (ExceptionType.STALLED, ExceptionType.CUSTOMER_REPORTED, ExceptionType.LATE_VS_PROMISE)


@dataclass(frozen=True)
class Case:
    """One exception's life: what the reference computes from."""

    view: ExceptionView

    @property
    def by_agent(self) -> bool:
        v = self.view
        return v.resolved_at is not None and bool(v.resolved_by) and not v.automatic_resolution

    @property
    def responded(self) -> tuple[datetime, str] | None:
        v = self.view
        if v.acknowledged_at is not None:
            return v.acknowledged_at, v.acknowledged_by or ""
        if self.by_agent:
            assert v.resolved_at is not None
            assert v.resolved_by is not None
            return v.resolved_at, v.resolved_by
        return None


def _exception(rng: random.Random, n: int) -> ExceptionView:
    opened = START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
    kind = rng.choice(TYPES)
    view = ExceptionView(f"exc-{n}", ExceptionState.OPEN, type=kind, opened_at=opened)
    if kind is ExceptionType.CUSTOMER_REPORTED:
        view.problem = rng.choice(list(ProblemType))
        view.reported_by_customer = True
    if rng.random() < 0.6:
        view.acknowledged_at = opened + timedelta(minutes=rng.randrange(1, 600))
        view.acknowledged_by = rng.choice(AGENTS)
        view.state = ExceptionState.ACKNOWLEDGED
        view.assignee = view.acknowledged_by
    fate = rng.random()
    if fate < 0.4:
        view.resolved_at = opened + timedelta(minutes=rng.randrange(600, 5000))
        view.resolved_by = rng.choice(AGENTS)
        view.state = ExceptionState.RESOLVED
    elif fate < 0.6:  # the condition cleared
        view.resolved_at = opened + timedelta(minutes=rng.randrange(1, 3000))
        view.automatic_resolution = True
        view.state = ExceptionState.RESOLVED
    if rng.random() < 0.2:
        view.escalated_at = opened + timedelta(minutes=30)
        view.case = CaseView("salesforce", f"500{n}", f"{n:08d}")
    return view


def _timelines(rng: random.Random, orders: int) -> list[Timeline]:
    found = []
    for n in range(orders):
        views = [_exception(rng, n * 10 + i) for i in range(rng.randrange(1, 3))]
        found.append(Timeline(f"ORD-{n}", exceptions=views, version=5))
    # one opened the day after the period: never counted
    late = ExceptionView(
        "exc-late", ExceptionState.OPEN, type=TYPES[0], opened_at=START + timedelta(days=DAYS)
    )
    found.append(Timeline("ORD-late", exceptions=[late], version=1))
    return found


def _change(timeline: Timeline) -> TimelineChange:
    document = timeline_to_json(timeline)
    return TimelineChange(timeline.order_id, timeline.version, "", "placed", document)


def _earlier(timeline: Timeline) -> Timeline:
    """The same order at an earlier version: every exception still open, nobody on it."""
    views = [ExceptionView(v.exception_id, ExceptionState.OPEN, v.type, opened_at=v.opened_at)
             for v in timeline.exceptions]  # fmt: skip
    return Timeline(timeline.order_id, exceptions=views, version=timeline.version - 1)


def _quantiles(values: list[float]) -> list[float | None]:
    """``quantilesExactInclusive(0.5, 0.9)``: linear interpolation between closest ranks."""
    if not values:
        return [math.nan, math.nan]
    ordered = sorted(values)
    out: list[float | None] = []
    for level in (0.5, 0.9):
        position = level * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return out


def _minutes(start: datetime | None, end: datetime | None) -> float:
    assert start is not None
    assert end is not None
    return max(0.0, (end - start).total_seconds() / 60)


def _figures(cases: list[Case], agent: str | None) -> dict[str, Any]:
    def acknowledged(c: Case) -> bool:
        r = c.responded
        return r is not None and (agent is None or r[1] == agent)

    def resolved(c: Case) -> bool:
        return c.by_agent and (agent is None or c.view.resolved_by == agent)

    return {
        "exceptions": len(cases),
        "acknowledged": sum(map(acknowledged, cases)),
        "resolved_by_agent": sum(map(resolved, cases)),
        "resolved_automatically": (
            0 if agent else sum(c.view.resolved_at is not None and not c.by_agent for c in cases)
        ),
        "unresolved": sum(c.view.resolved_at is None for c in cases),
        "escalated": sum(c.view.escalated_at is not None for c in cases),
        "time_to_acknowledge_min": _quantiles(
            [
                _minutes(c.view.opened_at, r[0])
                for c in cases
                if acknowledged(c) and (r := c.responded)
            ]
        ),
        "time_to_resolve_min": _quantiles(
            [_minutes(c.view.opened_at, c.view.resolved_at) for c in cases if resolved(c)]
        ),
    }


def _agents(case: Case) -> set[str]:
    """Who answered or resolved it (an automatic resolution names nobody)."""
    named = {case.responded[1]} if case.responded else set()
    if case.by_agent and case.view.resolved_by:
        named.add(case.view.resolved_by)
    return named - {""}


def reference(timelines: list[Timeline], first: date, last: date) -> list[dict[str, Any]]:
    cases = [
        Case(v)
        for t in timelines
        for v in t.exceptions
        if v.opened_at is not None and first <= v.opened_at.date() <= last
    ]
    rows = [{"scope": "all", "type": "", "agent": ""} | _figures(cases, None)]
    for kind in sorted({str(c.view.type) for c in cases}):
        mine = [c for c in cases if str(c.view.type) == kind]
        rows.append({"scope": "type", "type": kind, "agent": ""} | _figures(mine, None))
    for agent in sorted({a for c in cases for a in _agents(c)}):
        mine = [c for c in cases if agent in _agents(c)]
        rows.append({"scope": "agent", "type": "", "agent": agent} | _figures(mine, agent))
    return rows


def _close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_close, actual, expected))
    if isinstance(expected, str):
        return bool(actual == expected)
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None  # NaN: no data in the group
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


@pytest.fixture
async def loaded(clickhouse: ClickHouse) -> tuple[ClickHouse, list[Timeline]]:
    rng = random.Random(20261204)
    timelines = _timelines(rng, 150)
    changes = [_change(_earlier(t)) for t in timelines if t.version > 1]
    changes += [_change(t) for t in timelines] * 2
    rng.shuffle(changes)
    writer = ClickHouseWriter(clickhouse, batch_rows=61)
    for start in range(0, len(changes), 61):
        await writer.add_changes(changes[start : start + 61])
    await writer.flush()
    return clickhouse, timelines


@pytest.mark.parametrize("days", [(0, DAYS - 1), (2, 3)], ids=["whole", "two-days"])
async def test_agent_response_matches_the_reference(
    loaded: tuple[ClickHouse, list[Timeline]], days: tuple[int, int]
) -> None:
    ch, timelines = loaded
    first, last = START.date() + timedelta(days[0]), START.date() + timedelta(days[1])
    report = await ch.run(
        sla_report, ch.client, ch.database, SlaQuery(first, last), ["agent_response"]
    )
    rows = report.sections["agent_response"]
    expected = reference(timelines, first, last)
    assert [(r["scope"], r["type"], r["agent"]) for r in rows] == [
        (r["scope"], r["type"], r["agent"]) for r in expected
    ]
    for actual, wanted in zip(rows, expected, strict=True):
        for name, value in wanted.items():
            assert _close(actual[name], value), (actual["scope"], actual["agent"], name)
    whole = rows[0]
    assert whole["resolved_automatically"] > 0
    assert whole["resolved_by_agent"] > 0
    agents = [r for r in rows if r["scope"] == "agent"]
    assert {r["agent"] for r in agents} == set(AGENTS)
    assert all(r["resolved_automatically"] == 0 for r in agents)


def test_exception_rows_carry_who_worked_it() -> None:
    view = ExceptionView(
        "cr_1",
        ExceptionState.RESOLVED,
        type=ExceptionType.CUSTOMER_REPORTED,
        opened_at=START,
        acknowledged_at=START + timedelta(minutes=5),
        acknowledged_by="ana",
        resolved_at=START + timedelta(hours=2),
        resolved_by="bo",
        problem=ProblemType.NOT_RECEIVED,
        assignee="bo",
        escalated_at=START + timedelta(hours=1),
        case=CaseView("salesforce", "500x", "00001001"),
    )
    document = orjson.loads(timeline_to_json(Timeline("ORD-1", exceptions=[view], version=4)))
    (row,) = exception_rows(document)
    named = dict(zip(EXCEPTION_COLUMNS, row, strict=True))
    assert named["acknowledged_by"] == "ana"
    assert named["resolved_by"] == "bo"
    assert named["automatic_resolution"] == 0
    assert named["assignee"] == "bo"
    assert named["escalated_at"] == START + timedelta(hours=1)
    assert named["case_number"] == "00001001"
    assert named["problem"] == "not_received"


def test_agent_response_is_a_period_section_reported_by_default() -> None:
    assert set(AGENT_SECTIONS) <= set(ALL_SECTIONS)
    assert not set(AGENT_SECTIONS) & set(SECTIONS)
    grouped = SlaQuery(START.date(), START.date(), ("carrier",))
    assert section_sql(grouped, "agent_response") == AGENT_SECTIONS["agent_response"]
