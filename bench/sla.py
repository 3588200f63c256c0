"""Benchmark: the full SLA report over N events in ClickHouse (chDB by default).

The data is generated inside ClickHouse (``numbers()``), shaped like the warehouse's output: per
order about ten events (placed, shipped, scans at facilities, EDD revisions, returns), one
shipment fact row per shipment version (a share written twice, as replays do), exceptions.
The report reads only the shipment facts (everything a KPI needs is on that row, see
:mod:`projections.sla_facts`). Baseline in the same run: one plain aggregate scan of those facts
with ``FINAL`` — the least any shipment-level query must do — so the result reads as a ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.clickhouse_schema import migrate
from projections.sla import SlaQuery, sla_report

EVENTS_PER_ORDER = 10

_SHIPMENTS = """
INSERT INTO {db}.shipments
    (order_id, shipment_id, tracking_number, carrier, service, channel, sales_channel,
     origin_country, origin_region, origin_city, destination_country, destination_region,
     destination_city, status, reason, placed_at, promised_date, carrier_edd_first,
     carrier_edd_last, shipped_at, first_scan_at, out_for_delivery_at, first_attempt_at,
     delivered_at, returned_at, failed_attempts, exceptions_total, exceptions_open, version,
     ship_by, edd_revisions, exception_types, exception_reasons, stay_places, stay_arrived,
     stay_departed, first_of_order, order_delivered, order_returned, refund_waits_h)
SELECT
    concat('B', toString(o)) AS order_id, 'SH0', concat('TB', toString(o)),
    ['ups', 'fedex', 'dhl', 'usps'][1 + o % 4], ['standard', 'express'][1 + intDiv(o, 4) % 2],
    ['b2c', 'b2b'][1 + (o % 7 = 0)], 'web',
    'FR', ['ARA', 'IDF'][1 + o % 2], 'Lyon', ['FR', 'DE', 'GB'][1 + o % 3], '', 'Paris',
    if(o % 10 < 8, 'delivered', 'in_transit'), '',
    placed, toDate(placed + toIntervalDay(3 + o % 3)),
    toDate(placed + toIntervalDay(2 + o % 4)), toDate(placed + toIntervalDay(2 + o % 5)),
    placed + toIntervalHour(6 + o % 40), placed + toIntervalHour(9 + o % 40),
    if(o % 10 < 8, placed + toIntervalHour(50 + o % 60), NULL),
    if(o % 10 < 8, placed + toIntervalHour(55 + o % 60), NULL),
    if(o % 10 < 8, placed + toIntervalHour(55 + o % 60 + (o % 5 = 0) * 24), NULL),
    NULL, toUInt16(o % 5 = 0), toUInt16(o % 9 = 0), 0, toUInt64(version),
    placed + toIntervalHour(24), toUInt16(o % 6 = 0),
    if(o % 9 = 0, [['stalled', 'carrier_reported', 'late_vs_promise'][1 + o % 3]], []),
    if(o % 9 = 0, [['weather_delay', 'customs_hold', ''][1 + o % 3]], []),
    [concat('Hub ', toString(o % 50)), concat('Hub ', toString(o % 50 + 1)),
     concat('Depot ', toString(o % 200))],
    [placed + toIntervalHour(9), placed + toIntervalHour(20 + o % 7),
     placed + toIntervalHour(40 + o % 11)],
    [placed + toIntervalHour(20 + o % 7), placed + toIntervalHour(40 + o % 11),
     placed + toIntervalHour(50 + o % 60)],
    1, toUInt8(o % 10 < 8), toUInt8(o % 8 = 0), if(o % 16 = 0, [toFloat64(24 + o % 48)], [])
FROM (
    SELECT number % {orders} AS o, 10 + intDiv(number, {orders}) AS version,
           toDateTime64('2026-01-05 08:00:00', 3, 'UTC') + toIntervalMinute(o % 524160) AS placed
    FROM numbers({rows})
)
"""

_EVENTS = """
INSERT INTO {db}.events
    (event_id, kind, source, order_id, tracking_number, links, occurred_at, received_at,
     raw_ref, event_json, linked)
SELECT
    concat('bench:', toString(number)) AS event_id, kind, 'bench', concat('B', toString(o)),
    concat('TB', toString(o)), [], at, at, '',
    concat('{"payload":{"carrier":"', ['ups', 'fedex', 'dhl', 'usps'][1 + o % 4],
           '","return_id":"R', toString(o), '","status":"in_transit","location":{"facility":"',
           'Hub ', toString(o % 50 + step), '","city":"Lyon"}}}'),
    1
FROM (
    SELECT number, intDiv(number, 10) AS o, number % 10 AS step,
        multiIf(step = 0, 'order.placed', step = 1, 'fulfilment.shipped',
                step = 9 AND o % 8 = 0, 'return.received',
                step = 8 AND o % 8 = 0, 'return.authorized',
                step = 9 AND o % 16 = 0, 'refund.issued', 'tracking.checkpoint') AS kind,
        toDateTime64('2026-01-05 08:00:00', 6, 'UTC') + toIntervalMinute(o % 524160)
            + toIntervalHour(step * 7) AS at
    FROM numbers({events})
)
"""

_EXCEPTIONS = """
INSERT INTO {db}.exceptions
    (order_id, exception_id, type, severity, owner, subject, reason, state, message, opened_at,
     acknowledged_at, resolved_at, version)
SELECT concat('B', toString(o)), concat('exc:', toString(o)),
       ['stalled', 'carrier_reported', 'late_vs_promise'][1 + o % 3], 'medium', 'carrier', 'SH0',
       ['weather_delay', 'customs_hold', ''][1 + o % 3], 'open', 'bench',
       toDateTime64('2026-01-06 08:00:00', 3, 'UTC'), NULL, NULL, 10
FROM (SELECT number * 9 AS o FROM numbers(intDiv({orders}, 9)))
"""

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


def load(client: Any, database: str, events: int) -> int:
    """Generate ``events`` events (and their facts) in ``database``; returns the order count."""
    migrate(client, database)
    orders = max(1, events // EVENTS_PER_ORDER)
    rows = orders + orders // 5  # a fifth of the shipments written twice (replayed versions)
    for sql in (_EVENTS, _SHIPMENTS, _EXCEPTIONS):
        for name, value in (("db", database), ("orders", orders), ("rows", rows)):
            sql = sql.replace("{" + name + "}", str(value))
        client.command(sql.replace("{events}", str(events)))
    return orders


def run(
    client: Any,
    database: str,
    events: int,
    repeats: int = 5,
    progress: Callable[[str], None] = lambda _: None,
) -> SlaBenchResult:
    progress(f"generating {events:,} events in ClickHouse")
    load_s = _timed(lambda: load(client, database, events))
    orders = max(1, events // EVENTS_PER_ORDER)
    query = SlaQuery(date(2026, 1, 1), date(2026, 12, 31), ("carrier", "week"))
    report_s, baseline_s = [], []
    for attempt in range(repeats):
        progress(f"run {attempt + 1}/{repeats}")
        baseline_s.append(_timed(lambda: client.query(_BASELINE.replace("{db}", database))))
        report_s.append(_timed(lambda: sla_report(client, database, query)))
    return SlaBenchResult(events, orders, load_s, report_s, baseline_s)
