"""ClickHouse retention: each table's TTL follows the settings, and rows past it are dropped."""

from __future__ import annotations

import random

from projections.clickhouse_schema import apply_ttls, current_ttl
from projections.clickhouse_store import ClickHouse, ClickHouseStore
from tests.projections.synthetic import order_history
from wismo.settings import RetentionSettings

TABLES = ("events", "timelines", "shipments", "exceptions")


async def test_table_ttls_follow_the_settings_and_are_set_once(clickhouse: ClickHouse) -> None:
    client, database = clickhouse.client, clickhouse.database
    kept = RetentionSettings(events_days=400, timelines_days=90, shipments_days=730)
    assert await clickhouse.run(apply_ttls, client, database, kept.clickhouse_days) == [
        "events",
        "timelines",
        "shipments",
    ]
    ttls = {t: await clickhouse.run(current_ttl, client, database, t) for t in TABLES}
    assert ttls == {
        "events": "toDateTime(occurred_at) + toIntervalSecond(34560000)",
        "timelines": "toDateTime(updated_at) + toIntervalSecond(7776000)",
        "shipments": "toDateTime(updated_at) + toIntervalSecond(63072000)",
        "exceptions": None,
    }
    assert await clickhouse.run(apply_ttls, client, database, kept.clickhouse_days) == []
    forever = RetentionSettings().clickhouse_days
    assert await clickhouse.run(apply_ttls, client, database, forever) == [
        "events",
        "timelines",
        "shipments",
    ]
    for table in TABLES:
        assert await clickhouse.run(current_ttl, client, database, table) is None


async def test_rows_past_their_ttl_are_dropped(clickhouse: ClickHouse) -> None:
    history = order_history(0, random.Random(3))  # its events occurred in 2026, before "now"
    await ClickHouseStore(clickhouse).apply(history)
    client, database = clickhouse.client, clickhouse.database
    short = RetentionSettings(events_days=1, timelines_days=0, shipments_days=0).clickhouse_days
    await clickhouse.run(apply_ttls, client, database, short)
    await clickhouse.run(client.command, f"OPTIMIZE TABLE {database}.events FINAL")
    assert await clickhouse.rows("SELECT count() FROM {db}.events") == [(0,)]
    assert await clickhouse.rows("SELECT count() > 0 FROM {db}.timelines") == [(1,)]


async def test_the_erasure_audit_table_exists(clickhouse: ClickHouse) -> None:
    rows = await clickhouse.rows(
        "SELECT name FROM system.columns WHERE database = {d:String} AND table = 'erasures'",
        d=clickhouse.database,
    )
    assert {name for (name,) in rows} >= {"erasure_id", "requested_by", "subject", "orders"}
