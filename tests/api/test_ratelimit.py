"""The token bucket: never more than ``burst + rate * elapsed`` requests, and a fair wait."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(
    rate=st.floats(0.1, 1000),
    burst=st.integers(1, 500),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
def test_never_more_than_the_burst_plus_the_rate(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = Clock()
    limiter = RateLimiter(rate, burst, clock=clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        wait = limiter.take("ups")
        if wait == 0:
            allowed += 1
        else:
            assert 0 < wait <= 1 / rate + 1e-9
    assert allowed <= burst + rate * clock.now + 1e-6


def test_waiting_as_told_is_enough_and_keys_are_independent() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("dhl") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("dhl")
    assert wait > 0
    assert limiter.take("ups") == 0  # another source has its own bucket
    clock.now += wait + 1e-9  # float rounding
    assert limiter.take("dhl") == 0
