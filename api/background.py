"""Stopping background tasks without trusting every library to honour cancellation.

Some client libraries swallow a ``CancelledError`` that lands mid-command; the task then carries
on. Loops therefore also watch a stop flag, and shutdown waits a bounded time either way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def stop(task: asyncio.Task[Any], timeout_s: float = 2.0) -> None:
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("background task %s did not stop within %.1fs", task.get_name(), timeout_s)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("background task %s failed: %r", task.get_name(), task.exception())
