"""A writer killed (SIGKILL) between its Redis and ClickHouse writes, then the batch re-run.

The re-run converges: Redis holds the fold of every order, ClickHouse holds each event and each
timeline row exactly once (raw rows, no merge needed), and the two agree.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from projections.ordering import group_by_order
from projections.redis_store import RedisTimelineStore
from projections.serialize import timeline_to_json
from projections.timeline import fold
from tests.projections.conftest import REDIS_URL
from tests.projections.synthetic import events_for

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 60


def writer(prefix: str, chdb: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "tests.projections.crash_writer", "--redis", REDIS_URL,
        "--prefix", prefix, "--chdb", str(chdb), "--orders", str(ORDERS), *extra,
    ]  # fmt: skip


def kill_at(command: list[str]) -> None:
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line != b"paused\n":
            process.kill()
            raise AssertionError(process.communicate()[1].decode()[-2000:])
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL


def run_to_end(command: list[str]) -> dict[str, int]:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report: dict[str, int] = orjson.loads(done.stdout.splitlines()[-1])
    return report


@pytest.mark.parametrize("point", ["after-redis", "after-events"])
async def test_killed_between_redis_and_clickhouse_then_rerun_converges(
    point: str, tmp_path: Path, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    chdb = tmp_path / "chdb"
    await asyncio.to_thread(kill_at, writer(redis_prefix, chdb, "--pause", point))

    report = await asyncio.to_thread(run_to_end, writer(redis_prefix, chdb))

    events = events_for(ORDERS, 3)
    by_order, _ = group_by_order(events)
    assert report == {
        "events_raw": len(events),
        "events_distinct": len(events),
        "timelines_raw": ORDERS,
        "shipments_raw": ORDERS,
        "mismatched": 0,
    }
    store = RedisTimelineStore(redis_client, redis_prefix)
    for order_id, order_events in by_order.items():
        assert await store.timeline(order_id) == timeline_to_json(fold(order_events, order_id))
