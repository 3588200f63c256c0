"""Notification KPIs in ClickHouse (chDB) match an independent Python computation.

The records go through the warehouse's writer, every one of them twice and in shuffled
batches (at-least-once delivery); the exceptions are written at two timeline versions. FINAL and
the distinct counts must still count each message and exception once.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from projections.clickhouse_schema import apply_ttls, current_ttl
from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.facts import EXCEPTION_COLUMNS
from projections.notify.model import MessageState, NotifyChannel
from projections.sla import ALL_SECTIONS, SECTIONS, SlaQuery, section_sql, sla_report
from projections.sla_notifications import NOTIFICATION_SECTIONS, notification_row
from tests.projections.notification_data import (
    DAYS,
    START,
    Generated,
    exception_rows,
    generate,
    reference,
)
from wismo.settings import RetentionSettings

ORDERS = 300


@pytest.fixture
async def loaded(clickhouse: ClickHouse) -> tuple[ClickHouse, Generated]:
    rng = random.Random(20260304)
    data = generate(rng, ORDERS)
    twice = data.records + rng.sample(data.records, k=len(data.records))
    rng.shuffle(twice)
    writer = ClickHouseWriter(clickhouse, batch_rows=97)
    for start in range(0, len(twice), 97):
        await writer.add_notifications(twice[start : start + 97])
    await writer.flush()
    rows = exception_rows(data)
    rng.shuffle(rows)
    await clickhouse.run(
        clickhouse.client.insert,
        "exceptions",
        rows,
        column_names=list(EXCEPTION_COLUMNS),
        database=clickhouse.database,
    )
    return clickhouse, data


def _close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_close, actual, expected))
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


def _assert_row(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for name, value in expected.items():
        assert _close(actual[name], value), (where, name, actual[name], value)


@pytest.mark.parametrize("days", [(0, DAYS - 1), (3, 4)], ids=["whole", "two-days"])
async def test_notification_kpis_match_the_reference(
    loaded: tuple[ClickHouse, Generated], days: tuple[int, int]
) -> None:
    ch, data = loaded
    first, last = START.date() + timedelta(days[0]), START.date() + timedelta(days[1])
    query = SlaQuery(first, last)
    report = await ch.run(sla_report, ch.client, ch.database, query, list(NOTIFICATION_SECTIONS))
    end = START + timedelta(days=days[1] + 1)
    expected = reference(data, START + timedelta(days=days[0]), end)

    (delay,) = report.sections["notify_delay"]
    assert expected["notify_delay"]["exceptions"] > 0
    _assert_row(delay, expected["notify_delay"], "delay")

    messages = {row["channel"]: row for row in report.sections["notify_messages"]}
    assert list(messages) == list(expected["notify_messages"])  # channels, customer, all
    for channel, row in expected["notify_messages"].items():
        _assert_row(messages[channel], row, channel)

    suppressions = {row["reason"]: row for row in report.sections["notify_suppressions"]}
    assert suppressions.keys() == expected["notify_suppressions"].keys()
    for reason, row in expected["notify_suppressions"].items():
        _assert_row(suppressions[reason], row, reason)
    counts = [row["suppressed"] for row in report.sections["notify_suppressions"]]
    assert counts == sorted(counts, reverse=True)

    webhooks = {row["endpoint"]: row for row in report.sections["notify_webhooks"]}
    assert webhooks.keys() == expected["notify_webhooks"].keys()
    for endpoint, row in expected["notify_webhooks"].items():
        _assert_row(webhooks[endpoint], row, endpoint)


async def test_the_flakiest_endpoint_has_the_lowest_success_rate(
    loaded: tuple[ClickHouse, Generated],
) -> None:
    ch, _ = loaded
    query = SlaQuery(START.date(), START.date() + timedelta(DAYS - 1))
    report = await ch.run(sla_report, ch.client, ch.database, query, ["notify_webhooks"])
    rates = {row["endpoint"]: row["success_rate"] for row in report.sections["notify_webhooks"]}
    assert min(rates, key=lambda name: rates[name]) == "sub_data"


async def test_an_empty_period_reports_nulls_not_zeros(
    loaded: tuple[ClickHouse, Generated],
) -> None:
    ch, _ = loaded
    query = SlaQuery(date(2030, 1, 1), date(2030, 1, 31))
    report = await ch.run(sla_report, ch.client, ch.database, query, list(NOTIFICATION_SECTIONS))
    (delay,) = report.sections["notify_delay"]
    assert delay == {
        "exceptions": 0,
        "notified": 0,
        "notified_rate": None,
        "detected_to_notified_min": [None, None],
    }
    assert report.sections["notify_suppressions"] == []
    assert report.sections["notify_webhooks"] == []


async def test_a_later_record_of_the_same_state_replaces_the_first(clickhouse: ClickHouse) -> None:
    data = generate(random.Random(5), 3)
    record = next(r for r in data.records if r.channel == NotifyChannel.EMAIL)
    retried = replace(record, at=record.at + timedelta(seconds=30), attempts=2)
    failed = replace(record, state=MessageState.FAILED, reason="mailbox full")
    writer = ClickHouseWriter(clickhouse)
    await writer.add_notifications([record, retried, failed, record])
    await writer.flush()
    rows = await clickhouse.rows(
        "SELECT state, attempts FROM {db}.notifications FINAL ORDER BY state"
    )
    assert rows == [("failed", 1), ("sent", 2)]


def test_notification_sections_are_in_the_report_and_ignore_the_grouping() -> None:
    assert set(NOTIFICATION_SECTIONS) <= set(ALL_SECTIONS)
    assert not set(NOTIFICATION_SECTIONS) & set(SECTIONS)  # sla_report's default: shipments
    grouped = SlaQuery(date(2026, 3, 1), date(2026, 3, 2), ("carrier",))
    for section in NOTIFICATION_SECTIONS:
        assert section_sql(grouped, section) == NOTIFICATION_SECTIONS[section]
        assert "carrier" not in section_sql(grouped, section)


def test_a_row_has_no_recipient_and_empty_text_for_absent_values() -> None:
    record = generate(random.Random(1), 1).records[0]
    row = notification_row(record)
    assert f"{record.order_id}@example.com" not in repr(row)
    assert row[9:11] == ("", "")  # reason, endpoint


async def test_notification_rows_follow_their_retention(clickhouse: ClickHouse) -> None:
    client, database = clickhouse.client, clickhouse.database
    kept = RetentionSettings(notifications_days=1).clickhouse_days
    assert await clickhouse.run(apply_ttls, client, database, kept) == ["notifications"]
    ttl = await clickhouse.run(current_ttl, client, database, "notifications")
    assert ttl == "toDateTime(at) + toIntervalSecond(86400)"
    writer = ClickHouseWriter(clickhouse)
    await writer.add_notifications(generate(random.Random(2), 5).records)  # March 2026: expired
    await writer.flush()
    await clickhouse.run(client.command, f"OPTIMIZE TABLE {database}.notifications FINAL")
    assert await clickhouse.rows("SELECT count() FROM {db}.notifications") == [(0,)]
    forever = RetentionSettings().clickhouse_days
    assert await clickhouse.run(apply_ttls, client, database, forever) == ["notifications"]
