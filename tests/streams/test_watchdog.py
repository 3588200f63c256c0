"""The liveness rule: lag > 0 with offsets standing still for too long is unhealthy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.watchdog import Watchdog


def test_an_idle_worker_without_lag_stays_healthy() -> None:
    dog = Watchdog(stall_after_s=10)
    for now in range(0, 100, 5):
        health = dog.observe({"events/0": (50, 50)}, float(now))
        assert health.healthy
        assert health.lag == 0


def test_lag_with_moving_offsets_is_healthy() -> None:
    dog = Watchdog(stall_after_s=10)
    for step in range(20):
        health = dog.observe({"events/0": (step * 10, 1000)}, float(step * 5))
        assert health.healthy
        assert health.lag == 1000 - step * 10


def test_lag_with_frozen_offsets_becomes_unhealthy_after_the_threshold() -> None:
    dog = Watchdog(stall_after_s=10)
    assert dog.observe({"events/0": (5, 20)}, 0.0).healthy
    assert dog.observe({"events/0": (5, 20)}, 9.0).healthy
    stuck = dog.observe({"events/0": (5, 20)}, 10.0)
    assert not stuck.healthy
    assert stuck.stalled_for_s == 10.0
    assert dog.observe({"events/0": (6, 20)}, 11.0).healthy  # moving again


def test_a_newly_assigned_partition_counts_as_movement() -> None:
    dog = Watchdog(stall_after_s=10)
    dog.observe({"events/0": (5, 20)}, 0.0)
    assert dog.observe({"events/0": (5, 20), "events/1": (0, 3)}, 15.0).healthy


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=30))
def test_lag_is_never_negative(samples: list[tuple[int, int]]) -> None:
    dog = Watchdog(stall_after_s=5)
    for now, (committed, high) in enumerate(samples):
        assert dog.observe({"t/0": (committed, high)}, float(now)).lag >= 0
