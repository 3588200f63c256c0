"""`wismo predict train` end to end: a history loaded by one process, trained on by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projections.predict.model import model_from_json

ROOT = Path(__file__).parents[2]
LOADER = """
import sys, clickhouse_connect
from bench.orders import LANES, stories
from cli.runtime.predict import load_histories
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
told = stories(int(sys.argv[2]), seed=3, mix=LANES, order_id="T-{index:06d}")
load_histories(client, "wismo", ((s.order_id, s.events()) for s in told))
"""


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


def load_history(env: dict[str, str], tmp_path: Path, orders: int) -> None:
    """``orders`` simulated orders in the chDB under ``tmp_path``, loaded by another process."""
    subprocess.run(
        [sys.executable, "-c", LOADER, str(tmp_path / "chdb"), str(orders)],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=300,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "WISMO_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}


def test_train_stores_the_model_and_the_file(env: dict[str, str], tmp_path: Path) -> None:
    load_history(env, tmp_path, 300)
    out = tmp_path / "copy.json"
    result = wismo(
        env, "predict", "train", "--until", "2026-08-01", "--window-days", "200", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "groups, deliveries 2026-01-13 00:00 to 2026-08-01 00:00 UTC" in result.stderr
    model = model_from_json((tmp_path / "predict" / "model.json").read_bytes())
    assert model_from_json(out.read_bytes()) == model
    assert model.parcels > 200
    assert result.stderr.startswith(f"model {model.version}: {model.parcels:,} parcels")


def test_too_little_history_keeps_the_stored_model(env: dict[str, str], tmp_path: Path) -> None:
    result = wismo(env, "predict", "train", "--until", "2026-08-01")
    assert result.returncode == 1
    assert "0 scans of delivered parcels between 2026-05-03 00:00 and 2026-08-01 00:00" in (
        result.stderr
    )
    assert "the stored model is left as it was" in result.stderr
    assert not (tmp_path / "predict" / "model.json").exists()


def test_train_on_a_simulated_history_writes_the_model_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    """What `wismo up` runs when it has no model: no ClickHouse needed, only the file."""
    done = wismo(env, "predict", "train", "--history", "400")
    assert done.returncode == 0, done.stderr
    model = model_from_json((tmp_path / "predict" / "model.json").read_bytes())
    assert model.parcels > 100
    assert model.samples >= 30
    assert not (tmp_path / "chdb").exists()  # a scratch chDB, not the deployment's


def test_scheduled_training_trains_again_every_interval(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`--schedule` (a long-running trainer): one training, then another each interval, each
    said on stderr, until the process is stopped."""
    load_history(env, tmp_path, 200)
    args = ["predict", "train", "--until", "2026-08-01", "--window-days", "200", "--schedule"]
    trainer = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env={**env, "WISMO_PREDICT__REFRESH_INTERVAL_S": "1"},
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []
    try:
        assert trainer.stderr is not None
        deadline = time.monotonic() + 240
        while sum(line.startswith("model ") for line in said) < 2:
            assert time.monotonic() < deadline, "".join(said)
            line = trainer.stderr.readline()
            assert line or trainer.poll() is None, "".join(said)
            said.append(line)
    finally:
        trainer.terminate()
        trainer.wait(timeout=30)
        if trainer.stderr is not None:
            trainer.stderr.close()
    trained = [line for line in said if line.startswith("model ")]
    assert len(trained) == 2
    assert all("groups, deliveries 2026-01-13 00:00 to 2026-08-01 00:00 UTC" in t for t in trained)
    assert (tmp_path / "predict" / "model.json").exists()
