"""SLA KPIs in ClickHouse (chDB) match an independent Python computation on generated data.

The facts are loaded the way the warehouse writes them, but messier: every event is inserted
twice, events and timeline versions arrive shuffled, and older timeline versions are written
after newer ones. FINAL reads must still count every shipment, exception, scan and return once.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest

from projections.clickhouse_schema import migrate
from projections.facts import EVENT_COLUMNS, change_rows, event_row
from projections.serialize import timeline_to_json
from projections.sla import DIMENSIONS, InvalidGrouping, SlaQuery, sla_report
from projections.store import TimelineChange
from projections.timeline import fold
from tests.projections.sla_data import (
    delivery_reference,
    dwell_reference,
    exceptions_reference,
    of_brands,
    order_history,
    percentiles,
    returns_reference,
)
from wismo.events import Event

ORDERS = 400
START, END = date(2026, 3, 1), date(2026, 3, 31)


class Loaded:
    def __init__(self, client: Any, database: str) -> None:
        self.client = client
        self.database = database
        self.timelines: list[dict[str, Any]] = []
        self.events: list[Event] = []


def _change(events: list[Event], order_id: str) -> TimelineChange:
    timeline = fold(events, order_id)
    return TimelineChange(
        timeline.order_id,
        timeline.version,
        timeline.digest,
        timeline.status.value,
        timeline_to_json(timeline),
    )


def _insert(client: Any, database: str, table: str, rows: list[Any], columns: Any) -> None:
    if rows:
        client.insert(table, rows, column_names=list(columns), database=database)


@pytest.fixture(scope="module")
def loaded(chdb_client: Any) -> Iterator[Loaded]:
    from projections.clickhouse_store import COLUMNS

    database = f"wismo_sla_{uuid.uuid4().hex[:10]}"
    migrate(chdb_client, database)
    data = Loaded(chdb_client, database)
    rng = random.Random(20260302)
    changes: list[TimelineChange] = []
    for index in range(ORDERS):
        history = order_history(rng, index)
        arrival = history[:]
        rng.shuffle(arrival)
        for cut in sorted(rng.sample(range(1, len(arrival)), k=min(2, len(arrival) - 1))):
            changes.append(
                _change(arrival[:cut], history[0].order_id or "")
            )  # earlier versions of the same timeline
        final = _change(history, history[0].order_id or "")
        changes.append(final)
        data.timelines.append(orjson.loads(final.timeline))
        data.events += history
    rng.shuffle(changes)
    duplicated = data.events + rng.sample(data.events, k=len(data.events))
    rng.shuffle(duplicated)
    for start in range(0, len(duplicated), 997):
        rows = [event_row(e) for e in duplicated[start : start + 997]]
        _insert(chdb_client, database, "events", rows, EVENT_COLUMNS)
    for start in range(0, len(changes), 211):
        for table, rows in change_rows(changes[start : start + 211]).items():
            _insert(chdb_client, database, table, rows, COLUMNS[table])
    yield data
    chdb_client.command(f"DROP DATABASE IF EXISTS {database}")


def _close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_close, actual, expected))
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


def _assert_matches(
    rows: list[dict[str, Any]], reference: dict[Any, dict[str, Any]], key_names: tuple[str, ...]
) -> None:
    actual = {tuple(row[name] for name in key_names): row for row in rows}
    assert set(actual) == set(reference)
    for key, expected in reference.items():
        for kpi, value in expected.items():
            assert _close(actual[key][kpi], value), (key, kpi, actual[key][kpi], value)


GROUPINGS = [(), ("carrier",), ("carrier", "week"), ("lane",), ("channel", "day"), ("service",)]


@pytest.mark.parametrize("by", GROUPINGS, ids=lambda by: ",".join(by) or "total")
def test_delivery_kpis_match_the_reference(loaded: Loaded, by: tuple[str, ...]) -> None:
    report = sla_report(loaded.client, loaded.database, SlaQuery(START, END, by), ["delivery"])
    reference = delivery_reference(loaded.timelines, START, END, by)
    _assert_matches(report.sections["delivery"], reference, by)
    assert sum(row["shipments"] for row in report.sections["delivery"]) == sum(
        len(t["shipments"]) for t in loaded.timelines
    )


@pytest.mark.parametrize("by", GROUPINGS[:3], ids=lambda by: ",".join(by) or "total")
def test_exception_kpis_match_the_reference(loaded: Loaded, by: tuple[str, ...]) -> None:
    report = sla_report(loaded.client, loaded.database, SlaQuery(START, END, by), ["exceptions"])
    reference = exceptions_reference(loaded.timelines, START, END, by)
    assert reference  # the generated data has exceptions
    _assert_matches(report.sections["exceptions"], reference, (*by, "type", "reason"))


@pytest.mark.parametrize("by", GROUPINGS[:3], ids=lambda by: ",".join(by) or "total")
def test_return_kpis_match_the_reference(loaded: Loaded, by: tuple[str, ...]) -> None:
    report = sla_report(loaded.client, loaded.database, SlaQuery(START, END, by), ["returns"])
    reference = returns_reference(loaded.timelines, loaded.events, START, END, by)
    _assert_matches(report.sections["returns"], reference, by)
    assert sum(row["returned_orders"] for row in report.sections["returns"]) > 0


def test_dwell_per_facility_matches_the_reference(loaded: Loaded) -> None:
    report = sla_report(loaded.client, loaded.database, SlaQuery(START, END), ["dwell"])
    reference = dwell_reference(loaded.events, START, END)
    assert reference
    _assert_matches(report.sections["dwell"], reference, ("carrier", "facility"))


def test_a_narrower_period_only_counts_its_own_cohort(loaded: Loaded) -> None:
    week = (date(2026, 3, 9), date(2026, 3, 15))
    report = sla_report(loaded.client, loaded.database, SlaQuery(*week, ("carrier",)), ["delivery"])
    reference = delivery_reference(loaded.timelines, *week, ("carrier",))
    _assert_matches(report.sections["delivery"], reference, ("carrier",))


def test_inserting_everything_again_changes_no_kpi(loaded: Loaded) -> None:
    from projections.clickhouse_store import COLUMNS

    query = SlaQuery(START, END, ("carrier",))
    before = sla_report(loaded.client, loaded.database, query).as_dict()
    rows = [event_row(e) for e in loaded.events[:500]]
    _insert(loaded.client, loaded.database, "events", rows, EVENT_COLUMNS)
    stale = [_change(early, early[0].order_id or "") for early in _early_versions(loaded.events)]
    for table, table_rows in change_rows(stale).items():
        _insert(loaded.client, loaded.database, table, table_rows, COLUMNS[table])
    assert sla_report(loaded.client, loaded.database, query).as_dict() == before


def _early_versions(events: list[Event]) -> list[list[Event]]:
    by_order: dict[str, list[Event]] = {}
    for event in events:
        if event.order_id:
            by_order.setdefault(event.order_id, []).append(event)
    return [order_events[:2] for order_events in by_order.values() if len(order_events) > 2]


def test_unknown_grouping_is_refused() -> None:
    with pytest.raises(InvalidGrouping, match="unknown grouping"):
        SlaQuery(START, END, ("planet",))
    with pytest.raises(InvalidGrouping, match="before it starts"):
        SlaQuery(END, START)
    assert set(DIMENSIONS) == {"carrier", "service", "lane", "channel", "week", "day"}


def test_percentiles_interpolate_linearly() -> None:
    assert percentiles([1, 2, 3, 4, 10], (0.5, 0.9)) == [3, pytest.approx(7.6)]
    assert percentiles([], (0.5,)) == [None]


BRAND_SETS = [frozenset({"northwind"}), frozenset({"kaffeeberg", ""})]


def _brand_ids(brands: frozenset[str]) -> str:
    return "+".join(sorted(b or "unbranded" for b in brands))


@pytest.mark.parametrize("brands", BRAND_SETS, ids=_brand_ids)
@pytest.mark.parametrize("by", [(), ("carrier",)], ids=lambda by: ",".join(by) or "total")
def test_per_brand_kpis_match_the_reference_of_those_brands(
    loaded: Loaded, brands: frozenset[str], by: tuple[str, ...]
) -> None:
    assert {t.get("brand") for t in loaded.timelines} == {"northwind", "kaffeeberg", None}
    query = SlaQuery(START, END, by, brands)
    report = sla_report(loaded.client, loaded.database, query, ["delivery", "exceptions"])
    mine = of_brands(loaded.timelines, brands)
    _assert_matches(report.sections["delivery"], delivery_reference(mine, START, END, by), by)
    _assert_matches(
        report.sections["exceptions"],
        exceptions_reference(mine, START, END, by),
        (*by, "type", "reason"),
    )
    assert sum(r["shipments"] for r in report.sections["delivery"]) == sum(
        len(t["shipments"]) for t in mine
    )


@pytest.mark.parametrize("brands", BRAND_SETS, ids=_brand_ids)
def test_per_brand_returns_and_dwell_match_the_reference(
    loaded: Loaded, brands: frozenset[str]
) -> None:
    query = SlaQuery(START, END, (), brands)
    report = sla_report(loaded.client, loaded.database, query, ["returns", "dwell"])
    mine = of_brands(loaded.timelines, brands)
    orders = {t["order_id"] for t in mine}
    events = [e for e in loaded.events if e.order_id in orders]
    _assert_matches(report.sections["returns"], returns_reference(mine, events, START, END, ()), ())
    numbers = {s.get("tracking_number") for t in mine for s in t["shipments"]} - {None}
    scans = [e for e in loaded.events if e.tracking_number in numbers]
    _assert_matches(
        report.sections["dwell"], dwell_reference(scans, START, END), ("carrier", "facility")
    )


def test_the_brands_together_make_the_whole(loaded: Loaded) -> None:
    whole = sla_report(loaded.client, loaded.database, SlaQuery(START, END), ["delivery"])
    parts = [
        sla_report(loaded.client, loaded.database, SlaQuery(START, END, (), frozenset({b})))
        for b in ("northwind", "kaffeeberg", "")
    ]
    assert all(p.sections["delivery"][0]["shipments"] > 0 for p in parts)
    assert (
        sum(p.sections["delivery"][0]["shipments"] for p in parts)
        == (whole.sections["delivery"][0]["shipments"])
    )
    nobody = SlaQuery(START, END, ("carrier",), frozenset({"nobody"}))
    report = sla_report(loaded.client, loaded.database, nobody, ["delivery", "exceptions"])
    assert report.sections == {"delivery": [], "exceptions": []}


def test_an_order_counts_under_its_latest_brand(chdb_client: Any) -> None:
    from projections.clickhouse_store import COLUMNS

    database = f"wismo_sla_brand_{uuid.uuid4().hex[:10]}"
    migrate(chdb_client, database)
    rng = random.Random(5)
    histories = (order_history(rng, index) for index in range(0, 300, 3))  # northwind's
    changes = (_change(history, history[0].order_id or "") for history in histories)
    first = next(c for c in changes if orjson.loads(c.timeline)["exceptions"])
    document = orjson.loads(first.timeline)
    assert document["brand"] == "northwind"
    moved = {**document, "brand": "kaffeeberg", "version": first.version + 1}
    later = TimelineChange(
        first.order_id, first.version + 1, "moved", first.status, orjson.dumps(moved)
    )
    for change in (later, first):  # the older version arrives last
        for table, rows in change_rows([change]).items():
            _insert(chdb_client, database, table, rows, COLUMNS[table])
    try:
        for table in ("timelines", "shipments", "exceptions"):
            brands = chdb_client.query(
                f"SELECT DISTINCT brand FROM {database}.{table} FINAL"
            ).result_rows
            assert brands == [("kaffeeberg",)], table
        for brand, expected in (("northwind", 0), ("kaffeeberg", len(document["shipments"]))):
            query = SlaQuery(date(2000, 1, 1), date(2100, 1, 1), (), frozenset({brand}))
            report = sla_report(chdb_client, database, query, ["delivery"])
            assert report.sections["delivery"][0]["shipments"] == expected
    finally:
        chdb_client.command(f"DROP DATABASE IF EXISTS {database}")
