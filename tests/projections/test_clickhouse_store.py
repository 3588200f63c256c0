"""The ClickHouse side on real chDB: migrations, dedup tokens, retries, facts, reads."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from projections.clickhouse_schema import applied, migrate, migrations
from projections.clickhouse_store import (
    Backoff,
    Batch,
    ClickHouse,
    ClickHouseStore,
    ClickHouseWriter,
)
from projections.errors import MigrationError, StoreUnavailable
from projections.facts import EVENT_COLUMNS, event_row
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from tests.projections.synthetic import events_for, order_history


def _naive(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """chDB hands DateTime64('UTC') back as naive UTC; compare on that footing."""
    return tuple(
        v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v
        for v in row
    )


async def _count(ch: ClickHouse, table: str, final: bool = False) -> int:
    rows = await ch.rows(f"SELECT count() FROM {{db}}.{table}{' FINAL' if final else ''}")
    return int(rows[0][0])


def _change(order_id: str, events: list[Any]) -> TimelineChange:
    timeline = fold(events, order_id)
    document = timeline_to_json(timeline)
    return TimelineChange(
        order_id, timeline.version, timeline.digest, timeline.status.value, document
    )


async def test_migrations_are_recorded_and_run_once(clickhouse: ClickHouse) -> None:
    names = [m.name for m in migrations()]
    recorded = await clickhouse.run(applied, clickhouse.client, clickhouse.database)

    assert sorted(recorded) == names
    assert await clickhouse.run(migrate, clickhouse.client, clickhouse.database) == []


async def test_an_edited_migration_is_refused(clickhouse: ClickHouse) -> None:
    first = migrations()[0].name
    await clickhouse.run(
        clickhouse.client.command,
        f"INSERT INTO {clickhouse.database}.schema_migrations (name, checksum) "
        f"VALUES ('{first}', 'edited')",
    )
    with pytest.raises(MigrationError, match=f"{first} changed after it was applied"):
        await clickhouse.run(migrate, clickhouse.client, clickhouse.database)


async def test_a_retried_batch_is_stored_once(clickhouse: ClickHouse) -> None:
    events = events_for(20)
    writer = ClickHouseWriter(clickhouse, batch_rows=10_000)
    for _ in range(3):  # the same batch, sent again after an unanswered insert or a crash
        await writer.add_events(events)
        await writer.flush()

    assert await _count(clickhouse, "events") == len(events)  # raw rows: no merge needed
    assert writer.rows_written == 3 * len(events)


async def test_different_batches_overlapping_collapse_under_final(clickhouse: ClickHouse) -> None:
    events = events_for(10)
    writer = ClickHouseWriter(clickhouse, batch_rows=10_000)
    await writer.add_events(events[: len(events) // 2 + 5])
    await writer.flush()
    await writer.add_events(events[len(events) // 2 :])
    await writer.flush()

    assert await _count(clickhouse, "events", final=True) == len(events)


class FlakyClickHouse(ClickHouse):
    """Real chDB underneath; the first ``failures`` inserts fail the way a dropped link does."""

    def __init__(self, inner: ClickHouse, failures: int) -> None:
        super().__init__(inner.client, inner.database, target="flaky")
        self.failures = failures
        self.tokens: list[str] = []

    def insert_now(self, table: str, rows: Any, token: str) -> None:
        self.tokens.append(token)
        if self.failures:
            self.failures -= 1
            # the insert may even have landed before the failure was noticed
            super().insert_now(table, rows, token)
            raise ConnectionResetError("connection reset by peer")
        super().insert_now(table, rows, token)


async def test_transient_failures_are_retried_under_the_same_token(clickhouse: ClickHouse) -> None:
    flaky = FlakyClickHouse(clickhouse, failures=2)
    writer = ClickHouseWriter(flaky, backoff=Backoff(attempts=4, first_s=0.01))
    events = events_for(5)
    try:
        await writer.add_events(events)
        await writer.flush()
    finally:
        await flaky.close()

    assert len(flaky.tokens) == 3
    assert len(set(flaky.tokens)) == 1
    assert await _count(clickhouse, "events") == len(events)


async def test_a_batch_that_keeps_failing_stays_queued(clickhouse: ClickHouse) -> None:
    flaky = FlakyClickHouse(clickhouse, failures=3)
    writer = ClickHouseWriter(flaky, backoff=Backoff(attempts=2, first_s=0.01))
    events = events_for(5)
    try:
        await writer.add_events(events)
        with pytest.raises(StoreUnavailable, match="ClickHouse unreachable at flaky"):
            await writer.flush()
        assert writer.pending_rows == len(events)
        await writer.flush()
    finally:
        await flaky.close()

    assert writer.pending_rows == 0
    assert len(set(flaky.tokens)) == 1
    assert await _count(clickhouse, "events") == len(events)


async def test_writer_flushes_on_size_and_on_time(clickhouse: ClickHouse) -> None:
    import asyncio

    events = events_for(10)
    writer = ClickHouseWriter(clickhouse, batch_rows=len(events), batch_interval_s=0.05)
    await writer.add_events(events)  # full: flushed at once
    assert writer.pending_rows == 0
    async with writer:
        await writer.add_events(events[:3])
        await asyncio.sleep(0.3)
        assert writer.pending_rows == 0
    assert writer.rows_written == len(events) + 3


async def test_facts_follow_the_latest_timeline(clickhouse: ClickHouse) -> None:
    history = order_history(4, random.Random(1))
    writer = ClickHouseWriter(clickhouse)
    partial = [e for e in history if e.kind != "tracking.checkpoint"]
    for change in (_change("ORD-4", history), _change("ORD-4", partial)):  # late, older version
        await writer.add_changes([change])
        await writer.flush()

    shipments = await clickhouse.rows(
        "SELECT order_id, shipment_id, carrier, version, delivered_at IS NOT NULL, "
        "promised_date, destination_country FROM {db}.shipments FINAL"
    )
    timeline = orjson.loads(await ClickHouseStore(clickhouse).timeline("ORD-4") or b"{}")
    (shipment,) = timeline["shipments"]
    assert shipments == [
        (
            "ORD-4",
            shipment["shipment_id"],
            "ups",
            len(history),
            shipment.get("delivered_at") is not None,
            date.fromisoformat(timeline["promised_delivery_date"]),
            "GB",
        )
    ]
    assert timeline["version"] == len(history)


async def test_the_log_links_a_scan_logged_before_its_shipment(
    clickhouse_store: ClickHouseStore,
) -> None:
    history = order_history(6, random.Random(1))
    scans = [
        e.model_copy(update={"order_id": None})
        for e in history
        if e.order_id and e.kind == "tracking.checkpoint"
    ]
    order_side = [e for e in history if e.kind != "tracking.checkpoint"]

    assert await clickhouse_store.apply(scans) == []
    (change,) = await clickhouse_store.apply(order_side)

    linked = [e.model_copy(update={"order_id": "ORD-6"}) for e in scans]
    assert change.timeline == timeline_to_json(fold(order_side + linked, "ORD-6"))
    assert await clickhouse_store.count_events() == len(history)


async def test_every_event_is_logged_once_with_its_columns(
    clickhouse: ClickHouse, clickhouse_store: ClickHouseStore
) -> None:
    events = events_for(3)
    await clickhouse_store.apply(events + events[:4])
    await clickhouse_store.apply(events[2:9])

    rows = await clickhouse.rows(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM {{db}}.events FINAL ORDER BY event_id"
    )
    assert [_naive(r) for r in rows] == sorted(
        (_naive(event_row(e)) for e in events), key=lambda row: row[0]
    )


async def test_batch_token_depends_on_content_only() -> None:
    rows = [event_row(e) for e in events_for(2)]
    assert Batch.of("events", rows).token == Batch.of("events", list(rows)).token
    assert Batch.of("events", rows).token != Batch.of("events", rows[1:]).token
    assert Batch.of("events", rows).token != Batch.of("timelines", rows).token


async def test_unreachable_clickhouse_is_a_clear_error() -> None:
    from projections.connections import clickhouse_client
    from wismo.settings import ClickHouseSettings, Settings

    settings = Settings(clickhouse=ClickHouseSettings(url="http://wismo:secret@127.0.0.1:1/"))
    with pytest.raises(StoreUnavailable, match=r"ClickHouse unreachable at http://wismo:\*\*\*@"):
        clickhouse_client(settings)
