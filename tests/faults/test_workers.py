"""Workers die with SIGKILL at random points while the history streams in.

1. One process holds every stream role; it is killed -9 at random moments (right after a slice
   of the history was sent, while it is folding it) and restarted each time.
2. Two processes share the normalise and timeline roles; one is killed -9 mid-stream and stays
   dead: the survivor takes over its partitions.

Either way, at-least-once delivery re-processes what was read but not committed, and the
idempotent stores must end up exactly where a calm run would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.scenario import (
    dead_letters,
    drained,
    new_run,
    send,
    stop_all,
    verify,
)
from tests.streams.harness import WorkerProcess, embedded_stack, timelines_present, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SLICES = 8


def test_a_worker_killed_at_random_points_and_restarted_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    run = new_run()
    slices = run.chunks(SLICES)
    kills = sorted(run.rng.sample(range(1, len(slices)), k=2))
    with embedded_stack(tmp_path) as settings:
        worker = WorkerProcess(settings, "normalise,timeline,warehouse", tmp_path).start()
        try:
            for index, messages in enumerate(slices):
                send(settings, messages)
                if index in kills:
                    time.sleep(run.rng.uniform(0.0, 0.8))  # somewhere inside its batches
                    worker.kill()
                    worker.start()
            drained(settings, run, (worker,))
            letters = dead_letters(settings)
        finally:
            assert worker.stop() == 0, worker.log_tail()
        verify(settings, run)
    assert worker.starts == 1 + len(kills)
    assert letters == set(run.history.malformed), run.describe()


def test_two_workers_one_killed_for_good_the_survivor_takes_over(tmp_path: Path) -> None:
    run = new_run()
    slices = run.chunks(SLICES)
    kill_after = run.rng.randrange(1, len(slices) - 1)
    with embedded_stack(tmp_path) as settings:
        warehouse = WorkerProcess(settings, "warehouse", tmp_path).start()
        first = WorkerProcess(settings, "normalise,timeline", tmp_path).start()
        second = WorkerProcess(settings, "normalise,timeline", tmp_path).start()
        try:
            for index, messages in enumerate(slices):
                send(settings, messages)
                if index == kill_after:
                    assert wait_until(
                        lambda: timelines_present(settings, sorted(run.reference.timelines)) > 0,
                        120,
                        workers=(warehouse, first, second),
                    ), first.log_tail()
                    time.sleep(run.rng.uniform(0.0, 0.5))
                    victim = run.rng.choice((first, second))
                    victim.kill()
            survivor = second if victim is first else first
            drained(settings, run, (warehouse, survivor))
            letters = dead_letters(settings)
        finally:
            stop_all((warehouse, first, second))
        verify(settings, run)
    assert not victim.alive()
    assert letters == set(run.history.malformed), run.describe()
