"""Rebuild: Redis refolded from the ClickHouse log equals the live projection, byte for byte."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from projections.clickhouse_store import ClickHouse, ClickHouseStore, ClickHouseWriter
from projections.rebuild import RebuildReport, rebuild
from projections.rebuild_workers import StoreRecipe
from projections.redis_store import RedisTimelineStore
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.projections.synthetic import order_history
from wismo.events import Event, EventKind

ROOT = Path(__file__).resolve().parents[2]
PARCEL_KINDS = (EventKind.TRACKING_CHECKPOINT, EventKind.EDD_REVISED)


def live_stream(orders: int, seed: int) -> list[Event]:
    """Shuffled deliveries, 5 % duplicated; every 4th order's scans unlinked and early."""
    rng = random.Random(seed)
    stream: list[Event] = []
    for index in range(orders):
        history = order_history(index, rng, link_scans=index % 4 != 0)
        if index % 4 == 0:
            scans = [e for e in history if e.kind in PARCEL_KINDS]
            stream += scans + [e for e in history if e.kind not in PARCEL_KINDS]
        else:
            stream += history
    window = 400  # an order's events stay close together, as on a partition
    for start in range(0, len(stream), window):
        chunk = stream[start : start + window]
        rng.shuffle(chunk)
        stream[start : start + window] = chunk
    stream += rng.sample(stream, len(stream) // 20)
    return stream


async def _timelines(store: RedisTimelineStore, order_ids: list[str]) -> list[bytes | None]:
    return [change.timeline for change in await store.current(order_ids)]


async def _live_then_rebuild(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, prefix: str, orders: int, workers: int = 0
) -> tuple[RebuildReport, RedisTimelineStore]:
    stream = live_stream(orders, seed=5)
    live = RedisTimelineStore(redis_client, f"{prefix}:live")
    async with ClickHouseWriter(clickhouse, batch_rows=20_000) as writer:
        for start in range(0, len(stream), 500):
            batch = stream[start : start + 500]
            await live.apply(batch)
            await writer.add_events(batch)
    order_ids = [f"ORD-{i}" for i in range(orders)]

    rebuilt = RedisTimelineStore(redis_client, f"{prefix}:rebuilt")
    recipe = StoreRecipe(REDIS_URL, f"{prefix}:rebuilt")
    report = await rebuild(ClickHouseStore(clickhouse), rebuilt, workers=workers, recipe=recipe)

    assert report.orders == orders
    assert report.events == len({e.event_id for e in stream})
    live_timelines = await _timelines(live, order_ids)
    assert len(live_timelines) == orders
    assert await _timelines(rebuilt, order_ids) == live_timelines
    return report, rebuilt


@pytest.mark.parametrize("workers", [0, 2])
async def test_rebuild_matches_the_live_projection(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str, workers: int
) -> None:
    first, rebuilt = await _live_then_rebuild(clickhouse, redis_client, redis_prefix, 400, workers)

    # over orders Redis already holds, the rebuild merges: nothing changes
    again = await rebuild(ClickHouseStore(clickhouse), rebuilt)
    assert (again.events, again.changed) == (first.events, 0)


async def test_a_merging_rebuild_keeps_final_orders_on_the_retention_clock(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    stream = live_stream(120, seed=9)
    store = RedisTimelineStore(redis_client, f"{redis_prefix}:kept", retention_s=86_400)
    async with ClickHouseWriter(clickhouse, batch_rows=20_000) as writer:
        await store.apply(stream)
        await writer.add_events(stream)
    keys = store.keys

    async def clock() -> dict[str, int]:
        """Every key of the store with a time to live, and that time (rounded to an hour)."""
        found: dict[str, int] = {}
        async for key in redis_client.scan_iter(match=f"{redis_prefix}:kept:*", count=1000):
            ttl = await redis_client.ttl(key)
            if ttl > 0:
                found[key.decode()] = round(ttl / 3600)
        return found

    async def dups() -> dict[str, dict[bytes, bytes]]:
        order_ids = [f"ORD-{i}" for i in range(120)]
        return {o: await redis_client.hgetall(keys.dups(o)) for o in order_ids}

    before, dups_before = await clock(), await dups()
    retained = [k for k in before if k.endswith(":retained")]
    assert retained, "the stream delivers some orders: their keys are on the clock"
    assert any(":lookup:" in k for k in before)
    assert any(":track:" in k for k in before)

    again = await rebuild(ClickHouseStore(clickhouse), store)  # no replace: a merge
    assert again.changed == 0
    assert await clock() == before  # no key left the clock, none lost its mark
    assert await dups() == dups_before


@pytest.mark.slow
async def test_rebuild_of_100k_events_matches_the_live_projection(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    started = time.perf_counter()
    report, _ = await _live_then_rebuild(clickhouse, redis_client, redis_prefix, 12_100)
    assert report.events >= 100_000
    elapsed = time.perf_counter() - started
    print(f"\nrebuilt {report.events} events at {report.events_per_s:,.0f}/s ({elapsed:.0f}s)")


def _wismo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


async def test_wismo_rebuild_command(tmp_path: Path, redis_prefix: str) -> None:
    """Populate a chDB log with the crash writer, then ``wismo rebuild`` into a fresh prefix."""
    chdb = tmp_path / "chdb"
    populate = [
        sys.executable, "-m", "tests.projections.crash_writer", "--redis", REDIS_URL,
        "--prefix", f"{redis_prefix}:live", "--chdb", str(chdb), "--orders", "30",
    ]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, populate, cwd=ROOT, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    env = {
        "WISMO_REDIS__URL": REDIS_URL,
        "WISMO_REDIS__KEY_PREFIX": f"{redis_prefix}:rebuilt",
        "WISMO_CLICKHOUSE__CHDB_PATH": str(chdb),
    }

    one = await asyncio.to_thread(_wismo, "rebuild", "--order", "ORD-7", env=env)
    everything = await asyncio.to_thread(
        _wismo, "rebuild", "--replace", "--workers", "2", "--batch", "100", env=env
    )

    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("rebuilt 1 orders from ")
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.startswith("rebuilt 30 orders from ")
    assert "events/s" in everything.stdout
    assert "] 100.0% " in everything.stderr  # the progress bar reached the end
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        live = RedisTimelineStore(client, f"{redis_prefix}:live")
        rebuilt = RedisTimelineStore(client, f"{redis_prefix}:rebuilt")
        order_ids = [f"ORD-{i}" for i in range(30)]
        assert await _timelines(rebuilt, order_ids) == await _timelines(live, order_ids)
    finally:
        await drop_prefix(client, redis_prefix)
        await client.aclose()


def test_wismo_rebuild_names_the_unreachable_redis(tmp_path: Path) -> None:
    env = {
        "WISMO_REDIS__URL": "redis://:hunter2@127.0.0.1:1/0",
        "WISMO_CLICKHOUSE__CHDB_PATH": str(tmp_path / "chdb"),
    }
    done = _wismo("rebuild", env=env)

    assert done.returncode == 2
    assert done.stderr.startswith("wismo rebuild: Redis unreachable at redis://:***@127.0.0.1:1/0")
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr


def test_wismo_db_migrate_names_the_unreachable_clickhouse() -> None:
    done = _wismo("db", "migrate", env={"WISMO_CLICKHOUSE__URL": "http://wismo:pw@127.0.0.1:1/"})

    assert done.returncode == 2
    assert (
        "wismo db migrate: ClickHouse unreachable at http://wismo:***@127.0.0.1:1/" in done.stderr
    )
    assert "Traceback" not in done.stderr
