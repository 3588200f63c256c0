"""Benchmark: the full SLA report over N events in ClickHouse (chDB by default).

The data is the warehouse's output for generated orders (:mod:`bench.orders`, the SLA mix spread
over a year: lanes abroad, business orders, split parcels, every trouble, returns, refunds,
exceptions): a sample of them is folded in Python and written as the warehouse writes it, then
copied inside ClickHouse (``numbers()``), each copy under ids of its own, up to the size asked
for; a fifth of the copies' shipment facts are written again with an older version, as replays
do. The report reads only the shipment facts (everything a KPI needs is on that row, see
:mod:`projections.sla_facts`). Baseline in the same run: one plain aggregate scan of those facts
with ``FINAL`` — the least any shipment-level query must do — so the result reads as a ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from bench.orders import SLA, stories
from projections.clickhouse_schema import migrate
from projections.clickhouse_store import COLUMNS
from projections.facts import EVENT_COLUMNS, change_rows, event_row
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


@dataclass(frozen=True, slots=True)
class SlaBenchResult:
    events: int
    orders: int
    load_s: float
    report_s: list[float]
    baseline_s: list[float]

    def summary(self) -> dict[str, Any]:
        report, baseline = statistics.median(self.report_s), statistics.median(self.baseline_s)
        return {
            "scenario": "sla",
            "events": self.events,
            "orders": self.orders,
            "load_s": round(self.load_s, 2),
            "report_median_s": round(report, 3),
            "report_runs_s": [round(s, 3) for s in self.report_s],
            "baseline_median_s": round(baseline, 3),
            "report_vs_baseline": round(report / baseline, 2) if baseline else None,
            "target_s": 1.0,
            "met": report <= 1.0,
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


def run(
    client: Any,
    database: str,
    events: int,
    repeats: int = 5,
    progress: Callable[[str], None] = lambda _: None,
) -> SlaBenchResult:
    progress(f"generating {events:,} events in ClickHouse")
    started = time.perf_counter()
    orders, events = load(client, database, events)
    load_s = time.perf_counter() - started
    query = SlaQuery(date(2026, 1, 1), date(2026, 12, 31), ("carrier", "week"))
    report_s, baseline_s = [], []
    for attempt in range(repeats):
        progress(f"run {attempt + 1}/{repeats}")
        baseline_s.append(_timed(lambda: client.query(_BASELINE.replace("{db}", database))))
        report_s.append(_timed(lambda: sla_report(client, database, query)))
    return SlaBenchResult(events, orders, load_s, report_s, baseline_s)
