"""Benchmark: the full SLA report over N events in ClickHouse (chDB by default).

The data is the warehouse's output for generated orders (:mod:`bench.orders`, the SLA mix spread
over a year: lanes abroad, business orders, split parcels, every trouble, returns, refunds,
exceptions): a sample of them is folded in Python and written as the warehouse writes it, then
copied inside ClickHouse (``numbers()``), each copy under ids of its own, up to the size asked
for; a fifth of the copies' shipment facts are written again with an older version, as replays
do. The report reads only the shipment facts (everything a KPI needs is on that row, see
:mod:`projections.sla_facts`). Baseline in the same run: one plain aggregate scan of those facts
with ``FINAL`` — the least any shipment-level query must do — so the result reads as a ratio.

The report comes from the kept aggregates (:mod:`projections.sla_aggregates`): after the load
every bucket is dirty, and the first refresh (timed apart, ``refresh_s``) recomputes them all;
the plain SQL's report is timed beside it. Then every query behind the analytics page (its three
report requests, section by section, and the predictions) is timed ``page_repeats`` times, from
the kept aggregates and in plain SQL, each with its p50 and p95.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from bench.orders import SLA, stories
from projections import sla_aggregates
from projections.clickhouse_schema import migrate
from projections.clickhouse_store import COLUMNS
from projections.facts import EVENT_COLUMNS, change_rows, event_row
from projections.predict.accuracy import AccuracyQuery, accuracy_rows
from projections.serialize import timeline_to_json
from projections.sla import SlaQuery, sla_report
from projections.store import TimelineChange
from projections.timeline import fold
from wismo.events import Event

#: orders generated and folded in Python; the log holds copies of them up to the size asked for
SAMPLE_ORDERS = 2000
#: the sample spreads over the year the report asks for, so a report by week has every week
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
MIX = replace(SLA, days=360.0)
#: per table, the columns that name a copy apart from the other copies
_KEYS = {
    "events": ("event_id", "order_id", "tracking_number"),
    "shipments": ("order_id", "shipment_id", "tracking_number"),
    "exceptions": ("order_id", "exception_id"),
}


_BASELINE = "SELECT count(), sum(failed_attempts), max(delivered_at) FROM {db}.shipments FINAL"


#: the analytics page's requests (api/static/analytics/analytics.js), query by query
PAGE: dict[str, tuple[tuple[str, ...], str]] = {
    "delivery_by_carrier_week": (("carrier", "week"), "delivery"),
    "delivery_by_carrier": (("carrier",), "delivery"),
    "exceptions_by_carrier": (("carrier",), "exceptions"),
    "notify_delay": ((), "notify_delay"),
    "notify_messages": ((), "notify_messages"),
    "notify_suppressions": ((), "notify_suppressions"),
    "notify_webhooks": ((), "notify_webhooks"),
    "agent_response": ((), "agent_response"),
}
#: the page's targets: each query, and the whole report over 100M events
PAGE_TARGET_MS = 100.0
REPORT_TARGET_S = 2.0


def _ms(runs: list[float], level: float) -> float:
    ordered = sorted(runs)
    return round(ordered[min(len(ordered) - 1, round(level * (len(ordered) - 1)))] * 1000, 1)


@dataclass(slots=True)
class SlaBenchResult:
    events: int
    orders: int
    load_s: float
    report_s: list[float]
    baseline_s: list[float]
    refresh_s: float = 0.0
    plain_report_s: list[float] = field(default_factory=list)
    #: page query → (kept runs, plain runs), seconds
    page_s: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    load_1m: tuple[float, float] = (0.0, 0.0)

    def summary(self) -> dict[str, Any]:
        report, baseline = statistics.median(self.report_s), statistics.median(self.baseline_s)
        plain = statistics.median(self.plain_report_s) if self.plain_report_s else None
        page = {
            name: {
                "p50_ms": _ms(kept, 0.5),
                "p95_ms": _ms(kept, 0.95),
                "plain_p50_ms": _ms(plain_runs, 0.5),
                "plain_p95_ms": _ms(plain_runs, 0.95),
            }
            for name, (kept, plain_runs) in self.page_s.items()
        }
        slowest = max((q["p95_ms"] for q in page.values()), default=None)
        return {
            "scenario": "sla",
            "events": self.events,
            "orders": self.orders,
            "load_s": round(self.load_s, 2),
            "refresh_s": round(self.refresh_s, 3),
            "report_median_s": round(report, 3),
            "report_runs_s": [round(s, 3) for s in self.report_s],
            "plain_report_median_s": round(plain, 3) if plain is not None else None,
            "baseline_median_s": round(baseline, 3),
            "report_vs_baseline": round(report / baseline, 2) if baseline else None,
            "target_s": REPORT_TARGET_S,
            "met": report <= REPORT_TARGET_S,
            "page": page,
            "page_slowest_p95_ms": slowest,
            "page_met": slowest is not None and slowest <= PAGE_TARGET_MS,
            "cpus": os.cpu_count(),
            "load_1m_before": round(self.load_1m[0], 2),
            "load_1m_after": round(self.load_1m[1], 2),
        }


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _sample(client: Any, database: str, orders: int) -> int:
    """``orders`` generated orders folded into ``database`` as the warehouse writes them; returns
    their event count."""
    migrate(client, database)
    events: list[Event] = []
    changes = []
    for told in stories(orders, seed=11, mix=MIX, order_id="SLA-{index:06d}", start=YEAR):
        history = told.events()
        timeline = fold(history, told.order_id)
        document = timeline_to_json(timeline)
        status = timeline.status.value
        changes.append(
            TimelineChange(told.order_id, timeline.version, timeline.digest, status, document)
        )
        events += history
    for start in range(0, len(events), 20_000):
        rows = [event_row(e) for e in events[start : start + 20_000]]
        client.insert("events", rows, column_names=list(EVENT_COLUMNS), database=database)
    for table, rows in change_rows(changes).items():
        if rows and table in _KEYS:
            client.insert(table, rows, column_names=list(COLUMNS[table]), database=database)
    return len(events)


def _renamed(column: str) -> str:
    """The copy's own id (an empty one, an unlinked scan's order, stays empty)."""
    return f"if(t.{column} = '', '', concat(t.{column}, '~', toString(n.number))) AS {column}"


def load(client: Any, database: str, events: int) -> tuple[int, int]:
    """About ``events`` events (and their facts) in ``database``; returns the orders and events
    written."""
    migrate(client, database)
    sample = f"{database}_sample"
    orders = min(SAMPLE_ORDERS, max(1, events // 12))
    sampled = _sample(client, sample, orders)
    copies = max(1, round(events / sampled))
    copy = f"FROM {sample}.{{table}} AS t, numbers({copies}) AS n"
    replayed = copy + " WHERE n.number % 5 = 0"
    plan = [(table, copy, "") for table in _KEYS]
    plan.append(("shipments", replayed, ", t.version - 1 AS version"))
    try:
        for table, source, also in plan:
            keys = ", ".join(_renamed(key) for key in _KEYS[table])
            client.command(
                f"INSERT INTO {database}.{table} SELECT t.* REPLACE ({keys}{also})"
                f" {source.format(table=table)}"
            )
    finally:
        client.command(f"DROP DATABASE IF EXISTS {sample}")
    return orders * copies, sampled * copies


_START, _END = date(2026, 1, 1), date(2026, 12, 31)


def _page_runs(
    client: Any, database: str, repeats: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Each analytics-page query ``repeats`` times from the kept aggregates and in plain SQL
    (interleaved, so both see the same machine)."""
    runs: dict[str, tuple[list[float], list[float]]] = {}
    for name, (by, section) in PAGE.items():
        query = SlaQuery(_START, _END, by)
        kept: list[float] = []
        plain: list[float] = []
        for _ in range(repeats):
            kept.append(_timed(partial(sla_report, client, database, query, [section])))
            plain.append(
                _timed(partial(sla_report, client, database, query, [section], kept=False))
            )
        runs[name] = (kept, plain)
    predictions = AccuracyQuery(_START, _END)
    timed = [_timed(lambda: accuracy_rows(client, database, predictions)) for _ in range(repeats)]
    runs["predictions"] = (timed, timed)  # one query, no kept form
    return runs


def run(
    client: Any,
    database: str,
    events: int,
    repeats: int = 5,
    progress: Callable[[str], None] = lambda _: None,
    page_repeats: int = 20,
) -> SlaBenchResult:
    load_before = os.getloadavg()[0]
    progress(f"generating {events:,} events in ClickHouse")
    started = time.perf_counter()
    orders, events = load(client, database, events)
    load_s = time.perf_counter() - started
    # the writes are covered once the refresh's margin has passed
    time.sleep(sla_aggregates.MARGIN_S + 0.1)
    progress("recomputing every bucket's aggregates")
    refresh_s = _timed(lambda: sla_aggregates.refresh(client, database))
    query = SlaQuery(_START, _END, ("carrier", "week"))
    report_s, baseline_s, plain_s = [], [], []
    for attempt in range(repeats):
        progress(f"run {attempt + 1}/{repeats}")
        baseline_s.append(_timed(lambda: client.query(_BASELINE.replace("{db}", database))))
        report_s.append(_timed(lambda: sla_report(client, database, query)))
        plain_s.append(_timed(lambda: sla_report(client, database, query, kept=False)))
    progress(f"the analytics page's queries, {page_repeats} times each")
    page_s = _page_runs(client, database, page_repeats) if page_repeats else {}
    return SlaBenchResult(
        events,
        orders,
        load_s,
        report_s,
        baseline_s,
        refresh_s,
        plain_s,
        page_s,
        (load_before, os.getloadavg()[0]),
    )
