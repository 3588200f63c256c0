"""`wismo sla` end to end: a real chDB directory written by one process, read by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.projections.sla_data import delivery_reference

ROOT = Path(__file__).parents[2]
LOADER = """
import json, sys, clickhouse_connect
from tests.projections.sla_data import load_into
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
json.dump(load_into(client, "wismo", 150, 7), sys.stdout)
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], list[dict]]:
    data_dir = tmp_path_factory.mktemp("sla-cli")
    env = {**os.environ, "WISMO_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    loaded = subprocess.run(
        [sys.executable, "-c", LOADER, str(data_dir / "chdb")],
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    return env, json.loads(loaded.stdout)


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


def test_json_report_matches_the_reference(warehouse: tuple[dict[str, str], list[dict]]) -> None:
    env, timelines = warehouse
    result = wismo(
        env,
        "sla",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--by",
        "carrier,week",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kpi_version"] == 1
    reference = delivery_reference(
        timelines, date(2026, 3, 1), date(2026, 3, 31), ("carrier", "week")
    )
    got = {(row["carrier"], row["week"]): row for row in report["delivery"]}
    assert set(got) == set(reference)
    for key, expected in reference.items():
        assert got[key]["shipments"] == expected["shipments"]
        assert got[key]["delivered"] == expected["delivered"]


def test_table_csv_and_plot(warehouse: tuple[dict[str, str], list[dict]], tmp_path: Path) -> None:
    env, _ = warehouse
    chart = tmp_path / "on-time.png"
    table = wismo(
        env,
        "sla",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--by",
        "carrier",
        "--plot",
        str(chart),
    )
    assert table.returncode == 0, table.stderr
    assert "on_time_vs_promise" in table.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = wismo(
        env,
        "sla",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--by",
        "lane",
        "--format",
        "csv",
        "--section",
        "delivery",
    )
    assert csv.returncode == 0, csv.stderr
    header = csv.stdout.splitlines()[0].split(",")
    assert header[:3] == ["section", "lane", "shipments"]


def test_sql_is_printed_and_bad_groupings_are_refused(
    warehouse: tuple[dict[str, str], list[dict]],
) -> None:
    env, _ = warehouse
    sql = wismo(
        env, "sla", "--from", "2026-03-01", "--to", "2026-03-02", "--by", "carrier", "--sql"
    )
    assert sql.returncode == 0
    assert "quantilesExactInclusiveIf" in sql.stdout
    bad = wismo(env, "sla", "--from", "2026-03-01", "--to", "2026-03-02", "--by", "planet")
    assert bad.returncode == 2
    assert "unknown grouping planet" in bad.stderr
