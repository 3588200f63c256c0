"""When a call is tried again, after how long, and when it is given up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.errors import TrackingApiError
from carriers.retry import LONGEST_BACKOFF_S, Retry, backoff, retryable


class Script:
    """A call failing with the given errors in turn, then answering ``"done"``."""

    def __init__(self, *errors: TrackingApiError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def test_429_waits_as_asked_capped_and_5xx_and_transport_back_off() -> None:
    waits = Waits()
    script = Script(
        TrackingApiError("busy", 429, 7.0),
        TrackingApiError("much too busy", 429, 9_999.0),
        TrackingApiError("bad gateway", 502),
        TrackingApiError("connection reset"),
    )
    assert await Retry(sleep=waits, max_wait_s=60.0).call(script) == "done"
    assert waits.seconds == [7.0, 60.0, backoff(3), backoff(4)]
    assert script.calls == 5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 200])
async def test_a_refusal_or_a_bad_body_is_raised_at_once(status: int) -> None:
    waits = Waits()
    script = Script(TrackingApiError("no", status))
    with pytest.raises(TrackingApiError, match=r"^no$"):
        await Retry(sleep=waits).call(script)
    assert script.calls == 1
    assert waits.seconds == []


async def test_the_last_failure_says_how_many_attempts_were_made() -> None:
    waits = Waits()
    script = Script(*(TrackingApiError("GET /x: HTTP 503: down", 503) for _ in range(5)))
    with pytest.raises(TrackingApiError, match=r"HTTP 503: down \(after 3 attempts\)") as raised:
        await Retry(max_attempts=3, sleep=waits).call(script)
    assert raised.value.status == 503
    assert script.calls == 3
    assert len(waits.seconds) == 2


@given(st.integers(min_value=1, max_value=200))
def test_backoff_doubles_up_to_its_longest(attempt: int) -> None:
    assert 0 < backoff(attempt) <= LONGEST_BACKOFF_S
    assert backoff(attempt + 1) == min(2 * backoff(attempt), LONGEST_BACKOFF_S)


def test_what_is_worth_another_try() -> None:
    assert [s for s in (None, 200, 400, 401, 404, 408, 429, 500, 503) if retryable(s)] == [
        None,
        408,
        429,
        500,
        503,
    ]
