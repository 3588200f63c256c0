"""Backoff within its bounds, the retry horizon, and a breaker that never lets traffic through
while open."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections.notify.retry import Breaker, retry_delay, should_give_up

bases = st.floats(0.01, 60)
caps = st.floats(0.01, 7200)


@given(st.integers(1, 10_000), bases, caps, st.integers(0, 2**32))
def test_full_jitter_stays_below_the_exponential_ceiling_and_the_cap(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    delay = retry_delay(attempt, base, cap, random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2 ** min(attempt - 1, 60))


@given(bases, caps, st.floats(0, 10_000), st.integers(0, 2**32))
def test_decorrelated_jitter_stays_between_base_and_cap(
    base: float, cap: float, previous: float, seed: int
) -> None:
    delay = retry_delay(
        3, base, cap, random.Random(seed), jitter="decorrelated", previous_s=previous
    )
    assert delay <= cap
    assert delay >= min(base, cap)


def test_delays_grow_on_average_until_the_cap() -> None:
    rng = random.Random(7)
    means = [sum(retry_delay(n, 1.0, 60.0, rng) for _ in range(400)) / 400 for n in (1, 4, 20)]
    assert means[0] < means[1] < means[2] <= 60
    assert 25 < means[2] < 35  # uniform below the cap: about half of it


def test_a_delivery_is_given_up_after_its_horizon() -> None:
    first = datetime(2026, 3, 2, tzinfo=UTC)
    assert not should_give_up(first, first + timedelta(hours=23), 86400)
    assert should_give_up(first, first + timedelta(hours=24), 86400)


operations = st.lists(
    st.tuples(st.floats(0, 30), st.sampled_from(["allow", "ok", "fail"])), max_size=60
)


@given(st.integers(1, 5), st.floats(1, 60), operations)
def test_the_breaker_never_allows_while_open_and_probes_one_at_a_time(
    failures: int, cooldown: float, steps: list[tuple[float, str]]
) -> None:
    breaker = Breaker(failures, cooldown)
    now = 0.0
    in_flight = 0
    for pause, step in steps:
        now += pause
        state = breaker.state(now)
        if step == "allow":
            allowed = breaker.allow(now)
            if state == "open":
                assert not allowed
            if state == "closed":
                assert allowed
            if state == "half_open" and allowed:
                assert breaker.state(now) == "half_open"
                assert not breaker.allow(now)  # one probe at a time
            in_flight += allowed
        elif in_flight:
            in_flight -= 1
            breaker.record(step == "ok", now)
            if step == "ok":
                assert breaker.state(now) == "closed"


def test_the_breaker_opens_cools_down_and_closes_on_a_good_probe() -> None:
    breaker = Breaker(failures_to_open=3, cooldown_s=60)
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for n in range(3):
        assert breaker.allow(t0)
        breaker.record(False, t0 + timedelta(seconds=n))
    assert breaker.state(t0 + timedelta(seconds=3)) == "open"
    assert not breaker.allow(t0 + timedelta(seconds=61))  # cooldown counts from the last failure
    probe = t0 + timedelta(seconds=62)
    assert breaker.allow(probe)
    assert not breaker.allow(probe)
    breaker.record(False, probe)
    assert breaker.state(probe + timedelta(seconds=59)) == "open"
    again = probe + timedelta(seconds=60)
    assert breaker.allow(again)
    breaker.record(True, again)
    assert breaker.state(again) == "closed"
    assert breaker.allow(again)
