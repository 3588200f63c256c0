"""Benchmark: rebuilding Redis from the ClickHouse event log (``wismo bench rebuild``).

A simulated history of about ``events`` events (:mod:`bench.history`, scans unlinked as carriers
send them) is written to a fresh chDB log, then ``rebuild --replace`` folds it into a fresh Redis
key prefix, once per ``workers`` count (0: in this process; else that many processes folding and
writing while this one reads the log; the server they are forked from is started once before,
and the time that takes reported on its own). Baseline in the same run: preparing every
order's commit (parse, fold, encode) in this process with no Redis at all — the CPU work a
refold cannot avoid — so each rebuild reads as a ratio of it. CPU per event is reported for
each part (this process, the folding and writing, the Redis server), as the machine is shared.

The baseline's timelines are then kept in the log's ``timelines`` table, as the warehouse keeps
them, and each workers count is run twice in a row: refolding every order
(``rebuild_workers<n>_…``) and from the snapshots (``snapshots_workers<n>_…``, with the
verification pass refolding its default share of them).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.history import generate
from bench.orders import FLOW
from cli.runtime.embedded import delete_prefix
from projections.clickhouse_store import ClickHouse, ClickHouseStore, ClickHouseWriter
from projections.rebuild import rebuild, start_forkserver
from projections.rebuild_workers import StoreRecipe, prepare_chunk
from projections.redis_store import RedisTimelineStore
from wismo.settings import ClickHouseSettings, Settings

EVENTS_PER_ORDER = 10


async def run(
    chdb_path: Path,
    redis_url: str,
    events: int,
    workers: Sequence[int],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    orders = max(1, events // EVENTS_PER_ORDER)
    history = generate(orders, seed=3, duplicate_share=0, malformed_share=0, mix=FLOW)
    logged = list(history.valid_events.values())
    settings = Settings(clickhouse=ClickHouseSettings(chdb_path=chdb_path))
    ch = await ClickHouse.connect(settings)
    try:
        progress(f"writing {len(logged):,} events of {orders:,} orders to the log")
        async with ClickHouseWriter(ch, batch_rows=20_000) as writer:
            await writer.add_events(logged)
        log = ClickHouseStore(ch)
        sources = [item async for item in log.order_sources()]
        progress("baseline: preparing every order's commit without Redis")
        started, cpu = time.perf_counter(), time.process_time()
        prepared = prepare_chunk("bench", sources)
        prepare_s, prepare_cpu = time.perf_counter() - started, time.process_time() - cpu
        progress("keeping each order's timeline in the log, as the warehouse does")
        async with ClickHouseWriter(ch, batch_rows=20_000) as writer:
            await writer.add_changes([p.change for p in prepared if p.change is not None])
        counted = sum(p.events for p in prepared)
        summary: dict[str, Any] = {"scenario": "rebuild", "events": counted, "orders": orders}
        summary["prepare_events_per_s"] = round(counted / prepare_s, 1)
        summary["prepare_cpu_us_per_event"] = round(prepare_cpu / counted * 1e6, 1)
        if any(workers):
            started = time.perf_counter()
            start_forkserver()  # once per process: not part of any one rebuild's rate
            summary["forkserver_start_s"] = round(time.perf_counter() - started, 2)
        client = aioredis.Redis.from_url(redis_url)
        try:
            for count in workers:
                for snapshots in (False, True):
                    how = "from the snapshots" if snapshots else "refolding every order"
                    progress(f"rebuild --replace with {count} rebuilding processes, {how}")
                    measured = await _rebuild_once(
                        log, client, redis_url, count, counted, snapshots=snapshots
                    )
                    summary.update(_numbered(summary, measured))
        finally:
            await client.aclose()
        for name, value in list(summary.items()):
            if name.endswith("_events_per_s") and name != "prepare_events_per_s":
                ratio = name.replace("_events_per_s", "_to_prepare")
                summary[ratio] = round(value / summary["prepare_events_per_s"], 3)
    finally:
        await ch.close()
    return summary


def _numbered(summary: dict[str, Any], measured: dict[str, float]) -> dict[str, float]:
    """``measured`` as it is, or, for a workers count run before, with a run number
    (``rebuild_workers2_run2_…``): ``--workers 0,2,0,2`` alternates runs on a busy machine."""
    run = 1
    while any(_run_name(key, run) in summary for key in measured):
        run += 1
    return {_run_name(key, run): value for key, value in measured.items()}


def _run_name(key: str, run: int) -> str:
    scenario, workers, measure = key.split("_", 2)
    return key if run == 1 else f"{scenario}_{workers}_run{run}_{measure}"


async def _redis_cpu_s(client: aioredis.Redis) -> float:
    """CPU seconds the Redis server has used (all its clients': the machine's Redis is shared)."""
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _rebuild_once(
    log: ClickHouseStore,
    client: aioredis.Redis,
    redis_url: str,
    workers: int,
    events: int,
    *,
    snapshots: bool,
) -> dict[str, float]:
    """One ``rebuild --replace`` into a fresh prefix: its rate and the CPU per event of each part
    (this reading process, the folding and writing — here when ``workers`` is 0 —, Redis)."""
    prefix = f"wismo-bench-{uuid.uuid4().hex[:8]}"
    store = RedisTimelineStore(client, prefix)
    recipe = StoreRecipe(redis_url, prefix)
    redis_cpu, own_cpu = await _redis_cpu_s(client), time.process_time()
    report = await rebuild(
        log, store, replace=True, workers=workers, recipe=recipe, snapshots=snapshots
    )
    own_cpu = time.process_time() - own_cpu
    redis_cpu = await _redis_cpu_s(client) - redis_cpu
    delete_prefix(redis_url, prefix)
    reading = own_cpu - (0.0 if workers else report.writing_cpu_s)
    name = f"{'snapshots' if snapshots else 'rebuild'}_workers{workers}"
    per_event = 1e6 / events
    return {
        f"{name}_events": report.events,
        f"{name}_from_snapshots": report.from_snapshots,
        f"{name}_checked": report.checked,
        f"{name}_mismatches": report.mismatches,
        f"{name}_events_per_s": round(report.events_per_s, 1),
        f"{name}_reading_cpu_us_per_event": round(reading * per_event, 1),
        f"{name}_writing_cpu_us_per_event": round(report.writing_cpu_s * per_event, 1),
        f"{name}_redis_cpu_us_per_event": round(redis_cpu * per_event, 1),
    }
