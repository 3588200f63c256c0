"""Calling an API again when it asks to be asked later.

A :class:`Retry` runs one call (a coroutine function raising
:class:`carriers.errors.TrackingApiError`) and tries again after a ``408``, ``429`` or ``5xx`` —
after the answer's ``Retry-After`` when it gave one (capped), else a doubling back-off — and after
a transport error or a time-out; any other failure is raised at once, as is the last one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from carriers.errors import TrackingApiError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

MAX_ATTEMPTS = 6
MAX_WAIT_S = 120.0
FIRST_BACKOFF_S = 0.5
LONGEST_BACKOFF_S = 30.0


def retryable(status: int | None) -> bool:
    """Whether a failure with this status is worth another try (``None``: no answer at all)."""
    return status is None or status in (408, 429) or status >= 500


def backoff(attempt: int) -> float:
    """The wait after failed attempt ``attempt`` (1, 2, …) when the answer named none."""
    return float(min(FIRST_BACKOFF_S * 2 ** (attempt - 1), LONGEST_BACKOFF_S))


@dataclass(frozen=True, slots=True)
class Retry:
    max_attempts: int = MAX_ATTEMPTS
    max_wait_s: float = MAX_WAIT_S
    sleep: Sleep = asyncio.sleep

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            try:
                return await call()
            except TrackingApiError as error:
                if not retryable(error.status):
                    raise
                if attempt >= self.max_attempts:
                    raise TrackingApiError(
                        f"{error} (after {attempt} attempts)", error.status, error.retry_after_s
                    ) from error
                asked = error.retry_after_s
                wait = asked if asked is not None else backoff(attempt)
                await self.sleep(min(wait, self.max_wait_s))
                attempt += 1
