"""Two timeline workers share the events partitions; one is killed with SIGKILL mid-stream and
restarted. At-least-once delivery plus idempotent projections must still converge on the fold:
every Redis timeline exact, every event once in ClickHouse.

A third process owns the normalise and warehouse roles (chDB admits one process).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bench.history import generate, publish
from tests.streams.harness import (
    WorkerProcess,
    clickhouse_event_copies,
    embedded_stack,
    expected_timelines,
    group_lag,
    timeline_mismatches,
    timelines_present,
    wait_until,
)

pytestmark = pytest.mark.slow

ORDERS = 600


def test_a_killed_timeline_worker_restarts_and_the_projections_converge(tmp_path: Path) -> None:
    history = generate(ORDERS, seed=99)
    expected = expected_timelines(history.by_order())
    half = len(history.messages) // 2
    with embedded_stack(tmp_path) as settings:
        owner = WorkerProcess(settings, "normalise,warehouse", tmp_path).start()
        first = WorkerProcess(settings, "timeline", tmp_path).start()
        second = WorkerProcess(settings, "timeline", tmp_path).start()
        workers = (owner, first, second)
        try:
            asyncio.run(publish(settings, history.messages[:half]))
            started = wait_until(
                lambda: timelines_present(settings, sorted(expected)) > ORDERS * 0.2,
                120,
                workers=workers,
            )
            assert started, first.log_tail()
            first.kill()
            asyncio.run(publish(settings, history.messages[half:]))
            time.sleep(2)  # the survivor takes over the partitions meanwhile
            first.start()
            converged = wait_until(
                lambda: not timeline_mismatches(settings, expected), 180, every_s=2, workers=workers
            )
            mismatched = timeline_mismatches(settings, expected)
            assert converged, (
                f"{len(mismatched)} orders differ from the fold, e.g. {mismatched[:3]}"
            )
            group = f"{settings.kafka.topic_prefix}-warehouse"
            topics = ("events", "tracking", "timeline")
            assert wait_until(
                lambda: asyncio.run(group_lag(settings, group, topics)) == 0, 60, workers=workers
            ), owner.log_tail()
        finally:
            for worker in workers:
                worker.stop()
        copies = clickhouse_event_copies(settings)
    assert first.starts == 2
    assert set(copies) == set(history.valid_events)
    assert all(count == 1 for count, _ in copies.values())
