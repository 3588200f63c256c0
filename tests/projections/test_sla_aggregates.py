"""The kept SLA aggregates (projections.sla_aggregates) give exactly the plain SQL's report.

The facts are written as the warehouse writes them, then messed with the way a live system does:
older timeline versions inserted after newer ones, whole batches again, a version that moves a
shipment to another cohort day (the order date arrives after the shipment), a deletion (erasure).
After each, the report from the kept aggregates must equal the report of the plain ``FINAL``
SQL, row for row and value for value, and only the touched buckets are recomputed.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson
import pytest

from projections import sla_aggregates
from projections.clickhouse_schema import migrate, migrations
from projections.clickhouse_store import COLUMNS
from projections.facts import change_rows
from projections.serialize import timeline_to_json
from projections.sla import SlaQuery, sla_report
from projections.store import TimelineChange
from projections.timeline import fold
from tests.projections.sla_data import order_history
from wismo.events import Event

ORDERS = 150
START, END = date(2026, 1, 1), date(2026, 12, 31)
GROUPINGS = [(), ("carrier",), ("carrier", "week"), ("lane", "channel"), ("service", "day")]


def _change(events: list[Event], order_id: str) -> TimelineChange:
    timeline = fold(events, order_id)
    document = timeline_to_json(timeline)
    return TimelineChange(
        order_id, timeline.version, timeline.digest, timeline.status.value, document
    )


def _write(client: Any, database: str, changes: list[TimelineChange]) -> None:
    for table, rows in change_rows(changes).items():
        if rows:
            client.insert(table, rows, column_names=list(COLUMNS[table]), database=database)


class Facts:
    def __init__(self, client: Any, database: str) -> None:
        self.client, self.database = client, database
        self.histories: dict[str, list[Event]] = {}

    def reports(self, by: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(kept, plain) reports of every shipment section over the year."""
        query = SlaQuery(START, END, by)
        sla_aggregates.refresh(self.client, self.database, margin_s=0)
        assert sla_aggregates.up_to_date(self.client, self.database)  # no bucket is dirty
        kept = sla_report(self.client, self.database, query).as_dict()
        plain = sla_report(self.client, self.database, query, kept=False).as_dict()
        return kept, plain

    def shipments(self) -> int:
        rows = self.client.query(f"SELECT count() FROM {self.database}.shipments FINAL")
        return int(rows.result_rows[0][0])


@pytest.fixture(scope="module")
def facts(chdb_client: Any) -> Iterator[Facts]:
    database = f"wismo_kept_{uuid.uuid4().hex[:10]}"
    migrate(chdb_client, database)
    loaded = Facts(chdb_client, database)
    rng = random.Random(20261204)
    newest, stale = [], []
    for index in range(ORDERS):
        history = order_history(rng, index)
        order_id = history[0].order_id or ""
        loaded.histories[order_id] = history
        newest.append(_change(history, order_id))
        cut = rng.randrange(1, len(history))
        stale.append(_change(sorted(history, key=lambda _: rng.random())[:cut], order_id))
    _write(chdb_client, database, newest)
    _write(chdb_client, database, stale)  # older versions after the newer ones
    _write(chdb_client, database, newest[: ORDERS // 3])  # a batch delivered twice
    yield loaded
    chdb_client.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.mark.parametrize("by", GROUPINGS, ids=lambda by: ",".join(by) or "total")
def test_the_kept_report_is_the_plain_report(facts: Facts, by: tuple[str, ...]) -> None:
    kept, plain = facts.reports(by)
    assert kept == plain
    assert sum(row["shipments"] for row in kept["delivery"]) == facts.shipments()
    assert all(kept[section] for section in ("exceptions", "dwell", "returns"))


def test_only_the_buckets_written_to_are_recomputed(facts: Facts) -> None:
    sla_aggregates.refresh(facts.client, facts.database, margin_s=0)
    assert sla_aggregates.refresh(facts.client, facts.database, margin_s=0).buckets == ()
    order_id, history = next(iter(facts.histories.items()))
    _write(facts.client, facts.database, [_change(history, order_id)])
    bucket = facts.client.query(
        f"SELECT cityHash64({{order:String}}) % {sla_aggregates.BUCKETS}",
        parameters={"order": order_id},
    ).result_rows[0][0]
    assert sla_aggregates.refresh(facts.client, facts.database, margin_s=0).buckets == (bucket,)
    kept, plain = facts.reports(("carrier",))
    assert kept == plain


def test_reports_between_refreshes_run_the_plain_sql(facts: Facts) -> None:
    sla_aggregates.refresh(facts.client, facts.database, margin_s=0)
    order_id, history = next(iter(facts.histories.items()))
    _write(facts.client, facts.database, [_change(history, order_id)])
    # refreshed a moment ago: a report does not pay another refresh yet
    assert not sla_aggregates.up_to_date(facts.client, facts.database)
    assert sla_aggregates.dirty_buckets(facts.client, facts.database).buckets
    # once the interval has passed, it does
    assert sla_aggregates.up_to_date(facts.client, facts.database, every_s=-10)
    query = SlaQuery(START, END, ("carrier",))
    plain = sla_report(facts.client, facts.database, query, kept=False).as_dict()
    assert sla_report(facts.client, facts.database, query).as_dict() == plain


def _moved(history: list[Event]) -> tuple[list[Event], list[Event]]:
    """(the history without its order's placing, the whole history): the shipment's cohort is its
    shipping day in the first and the order's day in the second."""
    unplaced = [event for event in history if event.kind != "order.placed"]
    return unplaced, history


def test_a_version_that_moves_the_cohort_counts_once(facts: Facts) -> None:
    moved = []
    for order_id, history in list(facts.histories.items())[:20]:
        unplaced, whole = _moved(history)
        timeline = orjson.loads(_change(unplaced, order_id).timeline)
        if timeline.get("placed_at") is None and timeline.get("shipments"):
            moved.append((order_id, unplaced, whole))
    assert moved
    # the facts of the unplaced version, newer than everything written so far
    early = [_change(unplaced, order_id) for order_id, unplaced, _ in moved]
    early = [change_with_version(c, c.version + 1000) for c in early]
    _write(facts.client, facts.database, early)
    kept, plain = facts.reports(("carrier", "week"))
    assert kept == plain
    assert set(_placed(facts, [order_id for order_id, _, _ in moved])) == {None}
    # then the order date arrives: a still newer version puts the shipments back on its day
    late = [change_with_version(_change(whole, order_id), 2000) for order_id, _, whole in moved]
    _write(facts.client, facts.database, late)
    kept, plain = facts.reports(("carrier", "week"))
    assert kept == plain
    assert sum(row["shipments"] for row in kept["delivery"]) == facts.shipments()
    assert None not in _placed(facts, [order_id for order_id, _, _ in moved])


def _placed(facts: Facts, orders: list[str]) -> list[Any]:
    rows = facts.client.query(
        f"SELECT placed_at FROM {facts.database}.shipments FINAL "
        "WHERE order_id IN {orders:Array(String)} ORDER BY order_id, shipment_id",
        parameters={"orders": orders},
    )
    return [placed for (placed,) in rows.result_rows]


def change_with_version(change: TimelineChange, version: int) -> TimelineChange:
    """The same timeline under another version (the facts take the document's)."""
    document = orjson.loads(change.timeline)
    document["version"] = version
    return TimelineChange(
        change.order_id, version, change.digest, change.status, orjson.dumps(document)
    )


def test_deleted_facts_leave_the_kept_report(facts: Facts) -> None:
    sla_aggregates.refresh(facts.client, facts.database, margin_s=0)
    gone = list(facts.histories)[-5:]
    facts.client.command(
        f"ALTER TABLE {facts.database}.shipments DELETE WHERE order_id IN {{orders:Array(String)}}"
        " SETTINGS mutations_sync = 2",
        parameters={"orders": gone},
    )
    before = facts.shipments()
    assert set(sla_aggregates.dirty_buckets(facts.client, facts.database).buckets) == set(
        range(sla_aggregates.BUCKETS)
    )
    time.sleep(2)  # a part's time is in whole seconds: a second after, the deletion is covered
    kept, plain = facts.reports(("carrier",))
    assert kept == plain
    assert sum(row["shipments"] for row in kept["delivery"]) == before


def test_old_generations_are_recomputed(facts: Facts) -> None:
    sla_aggregates.refresh(facts.client, facts.database, margin_s=0)
    again = sla_aggregates.refresh(facts.client, facts.database, margin_s=0, max_age_s=0)
    assert len(again.buckets) == sla_aggregates.BUCKETS


def test_the_migration_buckets_orders_as_the_code_does() -> None:
    (migration,) = [m for m in migrations() if m.name == "0015_sla_rollup.sql"]
    assert f"cityHash64(order_id) % {sla_aggregates.BUCKETS})" in migration.sql
    assert f"numbers({sla_aggregates.BUCKETS})" in migration.sql


class _ReadOnly:
    """A client whose user may read but not write (``readonly=1`` in ClickHouse)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.query(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Code: 164. DB::Exception: Cannot execute query in readonly mode")


def test_a_read_only_user_gets_the_plain_report(facts: Facts) -> None:
    order_id, history = next(iter(facts.histories.items()))
    _write(facts.client, facts.database, [_change(history, order_id)])
    reader = _ReadOnly(facts.client)
    assert not sla_aggregates.up_to_date(reader, facts.database, every_s=-10)
    query = SlaQuery(START, END, ("carrier",))
    plain = sla_report(facts.client, facts.database, query, kept=False).as_dict()
    assert sla_report(reader, facts.database, query).as_dict() == plain
