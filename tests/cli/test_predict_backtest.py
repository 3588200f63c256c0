"""`wismo predict backtest` end to end, in a process of its own (one chDB engine per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


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


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "WISMO_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}


def test_backtest_beats_the_naive_baseline_on_a_simulated_history(env: dict[str, str]) -> None:
    result = wismo(env, "predict", "backtest", "--history", "1200", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["history"].startswith("simulated: 1,200 orders")
    assert report["train"]["parcels"] > 400
    assert report["test"]["parcels"] > 100
    mae = report["mae_hours"]
    assert mae["wismo"] < mae["naive"]
    assert mae["wismo_date"] < mae["naive_date"]
    assert mae["wismo_date_where_carrier_edd"] < mae["carrier_edd_date"]
    p_late = report["p_late"]
    assert p_late["brier"] < p_late["brier_constant"]
    assert sum(row["count"] for row in p_late["reliability"]) == p_late["samples"]
    assert 0.6 < report["window_coverage_p10_p90"] < 0.95
    assert report["trending_late"]["flagged_before_deadline"] > 0


def test_backtest_without_history_in_clickhouse_says_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "chdb").mkdir()
    result = wismo(env, "predict", "backtest")
    assert result.returncode == 1
    assert "fewer than 100 delivered parcels" in result.stderr
    assert "--history N" in result.stderr
