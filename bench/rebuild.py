"""Benchmark: rebuilding Redis from the ClickHouse event log (``wismo bench rebuild``).

A simulated history of about ``events`` events (:mod:`bench.history`, scans unlinked as carriers
send them) is written to a fresh chDB log, then ``rebuild --replace`` folds it into a fresh Redis
key prefix, once per ``workers`` count (0: in this process; else that many processes folding and
writing while this one reads the log). Baseline in the same run: preparing every order's commit
(parse, fold, encode) in this process with no Redis at all — the CPU work the rebuild cannot
avoid — so each rebuild reads as a ratio of it.
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
from projections.rebuild import rebuild
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
        documents = [item async for item in log.order_documents()]
        progress("baseline: preparing every order's commit without Redis")
        started = time.perf_counter()
        prepared = prepare_chunk("bench", documents)
        prepare_s = time.perf_counter() - started
        counted = sum(p.events for p in prepared)
        summary: dict[str, Any] = {"scenario": "rebuild", "events": counted, "orders": orders}
        summary["prepare_events_per_s"] = round(counted / prepare_s, 1)
        client = aioredis.Redis.from_url(redis_url)
        try:
            for count in workers:
                prefix = f"wismo-bench-{uuid.uuid4().hex[:8]}"
                progress(f"rebuild --replace with {count} rebuilding processes")
                store = RedisTimelineStore(client, prefix)
                recipe = StoreRecipe(redis_url, prefix)
                report = await rebuild(log, store, replace=True, workers=count, recipe=recipe)
                delete_prefix(redis_url, prefix)
                name = f"rebuild_workers{count}"
                summary[f"{name}_events"] = report.events
                summary[f"{name}_events_per_s"] = round(report.events_per_s, 1)
                summary[f"{name}_to_prepare"] = round(
                    report.events_per_s / summary["prepare_events_per_s"], 3
                )
        finally:
            await client.aclose()
    finally:
        await ch.close()
    return summary
