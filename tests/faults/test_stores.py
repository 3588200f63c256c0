"""The stores fail while the history streams in.

1. Redis is killed -9 mid-stream and restarted on the same port a moment later (its
   append-only file keeps what it acknowledged): the workers' batches wait and retry.
2. Redis comes back *empty* (data lost): the live timelines are wrong until ``wismo rebuild``
   refolds them from the ClickHouse log — the documented recovery — after which nothing differs.
3. ClickHouse refuses every write for a while (the fault hook in ``chaos/sitecustomize.py``),
   with batches small enough that flushes on size fail as well as the timed ones: the warehouse
   keeps its batches, retries, and does not commit its offsets until they are stored.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.faults.scenario import (
    CHAOS_DIR,
    CLICKHOUSE_DOWN_ENV,
    FaultyWorker,
    dead_letters,
    drained,
    durable_redis,
    new_run,
    run_wismo,
    send,
    stack_with_redis,
    started,
    store_retries,
    verify,
    warehouse_caught_up,
)
from tests.streams.harness import WorkerProcess, embedded_stack, timeline_mismatches, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SLICES = 6
ALL_ROLES = "normalise,timeline,warehouse"


def test_redis_killed_and_restarted_mid_stream(tmp_path: Path) -> None:
    run = new_run()
    slices = run.chunks(SLICES)
    outage_at = run.rng.randrange(1, len(slices) - 1)
    with (
        durable_redis(tmp_path / "redis") as redis,
        stack_with_redis(tmp_path, redis.url) as settings,
    ):
        worker = WorkerProcess(settings, ALL_ROLES, tmp_path).start()
        try:
            for index, messages in enumerate(slices):
                if index == outage_at:
                    started(settings, run, worker)
                    time.sleep(run.rng.uniform(0.0, 0.5))
                    redis.kill()
                send(settings, messages)
                if index == outage_at:
                    time.sleep(run.rng.uniform(1.0, 3.0))
                    redis.start()
            assert wait_until(lambda: store_retries(worker, "redis") > 0, 30, workers=(worker,))
            drained(settings, run, (worker,))
            letters = dead_letters(settings)
        finally:
            assert worker.stop() == 0, worker.log_tail()
        verify(settings, run)
    assert letters == set(run.history.malformed), run.describe()


def test_redis_data_lost_is_recovered_by_a_rebuild_from_the_log(tmp_path: Path) -> None:
    run = new_run()
    slices = run.chunks(SLICES)
    lost_at = run.rng.randrange(1, len(slices) - 1)
    with (
        durable_redis(tmp_path / "redis") as redis,
        stack_with_redis(tmp_path, redis.url) as settings,
    ):
        worker = WorkerProcess(settings, ALL_ROLES, tmp_path).start()
        try:
            for index, messages in enumerate(slices):
                if index == lost_at:
                    started(settings, run, worker)
                    redis.kill()
                    shutil.rmtree(redis.directory)
                    redis.directory.mkdir()
                    redis.start()
                send(settings, messages)
            warehouse_caught_up(settings, run, (worker,))
            time.sleep(1)  # the last timeline changes are applied before the warehouse sees them
            lost = timeline_mismatches(settings, run.reference.timelines)
        finally:
            assert worker.stop() == 0, worker.log_tail()
        assert lost, f"{run.describe()}: an emptied Redis should have lost some timelines"
        rebuilt = run_wismo(settings, "rebuild", "--quiet")
        assert rebuilt.returncode == 0, rebuilt.stderr.decode()
        verify(settings, run)


def test_clickhouse_refusing_writes_for_a_while(tmp_path: Path) -> None:
    run = new_run()
    slices = run.chunks(SLICES)
    down_from = run.rng.randrange(1, len(slices) - 2)
    down_file = tmp_path / "clickhouse-down"
    with embedded_stack(tmp_path) as settings:
        path = os.pathsep.join(p for p in (str(CHAOS_DIR), os.environ.get("PYTHONPATH")) if p)
        worker = FaultyWorker(
            settings,
            ALL_ROLES,
            tmp_path,
            extra_env={
                "PYTHONPATH": path,
                CLICKHOUSE_DOWN_ENV: str(down_file),
                # small batches: the writer's own size-triggered flushes fail too, not only
                # the warehouse's timed flush-before-commit
                "WISMO_CLICKHOUSE__BATCH_ROWS": "100",
            },
        ).start()
        try:
            for index, messages in enumerate(slices):
                if index == down_from:
                    down_file.touch()
                send(settings, messages)
                if index == down_from + 1:
                    # down long enough that the writer's own retries run out and the warehouse
                    # holds its offsets, retrying
                    assert wait_until(
                        lambda: store_retries(worker, "clickhouse") > 0, 60, workers=(worker,)
                    ), worker.log_tail()
                    time.sleep(run.rng.uniform(0.0, 2.0))
                    down_file.unlink()
            drained(settings, run, (worker,))
            letters = dead_letters(settings)
        finally:
            down_file.unlink(missing_ok=True)
            assert worker.stop() == 0, worker.log_tail()
        verify(settings, run)
    assert letters == set(run.history.malformed), run.describe()
