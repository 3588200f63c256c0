"""`wismo sla` prints the notification KPIs: a real chDB directory written by one process (the
records through the warehouse's writer, twice each), read by the CLI in another."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.projections.notification_data import DAYS, START, generate, reference

ROOT = Path(__file__).parents[2]
SEED, ORDERS = 77, 120
LOADER = """
import asyncio, random, sys
import clickhouse_connect
from projections.clickhouse_schema import migrate
from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.facts import EXCEPTION_COLUMNS
from tests.projections.notification_data import exception_rows, generate

data = generate(random.Random(int(sys.argv[2])), int(sys.argv[3]))
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
migrate(client, "wismo")
client.insert("exceptions", exception_rows(data), column_names=list(EXCEPTION_COLUMNS),
              database="wismo")

async def load():
    ch = ClickHouse(client, "wismo")
    writer = ClickHouseWriter(ch)
    await writer.add_notifications(data.records)
    await writer.add_notifications(data.records[::-1])
    await writer.flush()
    await ch.close()

asyncio.run(load())
client.close()
"""
LAST = START.date() + timedelta(DAYS - 1)
PERIOD = ("--from", START.date().isoformat(), "--to", LAST.isoformat())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("notify-sla-cli")
    env = {**os.environ, "WISMO_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", LOADER, str(data_dir / "chdb"), str(SEED), str(ORDERS)],
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    return env


def wismo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_close, actual, expected))
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


def test_json_sections_match_the_reference(env: dict[str, str]) -> None:
    sections = ("notify_delay", "notify_webhooks", "notify_suppressions")
    args = [arg for name in sections for arg in ("--section", name)]
    result = wismo(env, "sla", *PERIOD, "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= set(sections)
    assert "delivery" not in report
    expected = reference(generate(random.Random(SEED), ORDERS), START, START + timedelta(DAYS))
    (delay,) = report["notify_delay"]
    for name, value in expected["notify_delay"].items():
        assert _close(delay[name], value), name
    webhooks = {row["endpoint"]: row for row in report["notify_webhooks"]}
    assert webhooks.keys() == expected["notify_webhooks"].keys()
    for endpoint, row in expected["notify_webhooks"].items():
        for name, value in row.items():
            assert _close(webhooks[endpoint][name], value), (endpoint, name)
    reasons = {row["reason"]: row["suppressed"] for row in report["notify_suppressions"]}
    assert reasons == {r: row["suppressed"] for r, row in expected["notify_suppressions"].items()}


def test_the_default_table_has_every_notification_section(env: dict[str, str]) -> None:
    result = wismo(env, "sla", *PERIOD, "--by", "carrier")
    assert result.returncode == 0, result.stderr
    for section in (
        "notify_delay:",
        "notify_messages:",
        "notify_suppressions:",
        "notify_webhooks:",
        "agent_response:",
    ):
        assert section in result.stdout
    assert "detected_to_notified_min" in result.stdout
    assert "success_rate" in result.stdout


def test_sql_prints_the_notification_queries(env: dict[str, str]) -> None:
    result = wismo(env, "sla", *PERIOD, "--sql", "--section", "notify_delay")
    assert result.returncode == 0, result.stderr
    assert "-- notify_delay" in result.stdout
    assert "FROM {db}.notifications FINAL" in result.stdout
