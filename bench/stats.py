"""Summaries of latency samples and a progress line for long runs."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence

Progress = Callable[[str], None]


def percentiles(samples_s: Sequence[float], prefix: str = "") -> dict[str, float | None]:
    """p50/p90/p99/max in milliseconds (nearest rank); ``None`` when there is no sample."""
    ordered = sorted(samples_s)
    names = ("p50", "p90", "p99", "max")
    if not ordered:
        return {f"{prefix}{name}_ms": None for name in names}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    values = (rank(0.50), rank(0.90), rank(0.99), ordered[-1])
    return {f"{prefix}{name}_ms": round(v * 1000, 2) for name, v in zip(names, values, strict=True)}


def ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 3) if baseline else None


async def until(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Whether ``condition()`` became true within ``timeout_s`` (looked at every ``step_s``)."""
    for _ in range(max(1, math.ceil(timeout_s / step_s))):
        if condition():
            return True
        await asyncio.sleep(step_s)
    return condition()


async def every_second(progress: Progress, line: Callable[[], str]) -> None:
    """Report ``line()`` once a second until cancelled (run it as a task beside the load)."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(1.0)
        progress(f"{time.monotonic() - started:5.0f}s  {line()}")
