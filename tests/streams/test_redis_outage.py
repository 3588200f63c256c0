"""A Redis outage holds the batches and retries them with backoff: nothing is lost.

The worker runs against a private Redis, which is stopped before the traffic arrives and
started again (empty, same port) a few seconds later; every timeline must still be the fold.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import pytest

from bench.history import generate, publish
from cli.runtime.embedded import EmbeddedServices, free_port, start_redis, stop_process
from tests.streams.harness import (
    WorkerProcess,
    expected_timelines,
    stack_settings,
    timeline_mismatches,
    wait_until,
)
from wismo.settings import Settings
from wismo.topics import ensure_topics

pytestmark = pytest.mark.slow


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _retries(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('wismo_store_retries_total{store="redis"}')
    )


def test_batches_wait_out_a_redis_outage_and_converge(tmp_path: Path) -> None:
    history = generate(100, seed=5)
    expected = expected_timelines(history.by_order())
    port = free_port()
    redis, url = start_redis(tmp_path, port)
    requested = stack_settings(tmp_path)
    requested = requested.model_copy(
        update={"redis": requested.redis.model_copy(update={"url": url})}
    )
    with EmbeddedServices(requested) as services:
        settings: Settings = services.settings
        asyncio.run(ensure_topics(settings))
        worker = WorkerProcess(settings, "normalise,timeline", tmp_path).start()
        try:
            assert wait_until(lambda: _serving(worker.web_port), 60, workers=(worker,))
            time.sleep(1)
            stop_process(redis, "redis-server")
            asyncio.run(publish(settings, history.messages))
            assert wait_until(lambda: _retries(worker.web_port) >= 3, 30, workers=(worker,))
            redis, _ = start_redis(tmp_path, port)
            converged = wait_until(
                lambda: not timeline_mismatches(settings, expected), 120, workers=(worker,)
            )
            assert converged, worker.log_tail()
        finally:
            worker.stop()
            stop_process(redis, "redis-server")
