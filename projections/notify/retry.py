"""When to try a failed delivery again, when to stop, and when an endpoint needs a rest.

* :func:`retry_delay` — capped exponential backoff with jitter, so endpoints coming back from
  an outage are not hit by every sender at the same instant. ``full`` jitter draws uniformly
  below the exponential ceiling; ``decorrelated`` jitter grows from the previous delay.
* :func:`should_give_up` — a delivery is retried for ``horizon_s`` after its first attempt,
  then failed.
* :class:`Breaker` — a per-endpoint circuit breaker: ``closed`` until ``failures`` consecutive
  failures, then ``open`` (nothing allowed) for ``cooldown_s``, then ``half_open``: one probe
  goes through, its outcome closes or re-opens the breaker.

All pure: time and randomness are passed in (a :class:`random.Random` seeded in tests).
"""

from __future__ import annotations

import random as random_module
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Jitter = Literal["full", "decorrelated"]
BreakerState = Literal["closed", "open", "half_open"]

#: exponents above this already exceed any sane cap; avoids float overflow on long outages
_MAX_EXPONENT = 60


def retry_delay(
    attempt: int,
    base_s: float,
    cap_s: float,
    random: random_module.Random,
    *,
    jitter: Jitter = "full",
    previous_s: float | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    ``full``: uniform in ``[0, min(cap, base · 2^(attempt-1))]``. ``decorrelated``: uniform in
    ``[base, 3 · previous]`` (``previous`` defaulting to ``base``), capped. Never above ``cap_s``.
    """
    if jitter == "decorrelated":
        previous = max(previous_s if previous_s is not None else base_s, base_s)
        return min(cap_s, random.uniform(base_s, previous * 3))
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    ceiling = min(cap_s, base_s * 2.0**exponent)
    return random.uniform(0.0, ceiling)


def should_give_up(first_attempt_at: datetime, now: datetime, horizon_s: float) -> bool:
    """Whether a delivery first tried at ``first_attempt_at`` is past its retry horizon."""
    return (now - first_attempt_at).total_seconds() >= horizon_s


def _seconds(now: float | datetime) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


@dataclass(slots=True)
class Breaker:
    """One endpoint's circuit breaker. ``now`` is seconds on any steady clock, or a datetime."""

    failures_to_open: int
    cooldown_s: float
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    def state(self, now: float | datetime) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if self.probing or _seconds(now) - self.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self, now: float | datetime) -> bool:
        """Whether a request may go now; in ``half_open`` only one probe at a time."""
        state = self.state(now)
        if state == "closed":
            return True
        if state == "open" or self.probing:
            return False
        self.probing = True
        return True

    def record(self, success: bool, now: float | datetime) -> None:
        """The outcome of a request that :meth:`allow` let through."""
        if success:
            self.failures, self.opened_at, self.probing = 0, None, False
            return
        self.failures += 1
        if self.probing or self.failures >= self.failures_to_open:
            self.opened_at, self.probing = _seconds(now), False
