"""Recompute Redis timelines from the ClickHouse event log, in bulk, with the same fold.

The log holds every event (invariant 7), so folding it into Redis again converges on exactly
what the live path built: the same merge plan, fold and commit script are used. The bulk path
prepares each order's commit — parse, fold, serialise: the CPU work — in worker processes and
creates the orders in pipelined batches. An order Redis already holds (a merging rebuild while
workers run) or that changed meanwhile is applied the ordinary, idempotent way instead, so
events Redis holds and the log does not yet are kept. ``replace=True`` first drops each order's
Redis state, for when Redis holds something the log disproves.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from projections.clickhouse_store import ClickHouseStore
from projections.merge import with_order
from projections.redis_store import PreparedCommit, RedisTimelineStore, prepare_new_order
from wismo.events import parse_event

Progress = Callable[[int, int], None]
"""Called with (events done, orders done) after each batch."""
Chunk = list[tuple[str, list[str]]]


@dataclass(slots=True)
class RebuildReport:
    orders: int = 0
    events: int = 0
    changed: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def prepare_chunk(prefix: str, chunk: Chunk) -> list[PreparedCommit]:
    return [prepare_new_order(prefix, order_id, documents) for order_id, documents in chunk]


async def _write(
    redis: RedisTimelineStore,
    chunk: Chunk,
    prepared: Sequence[PreparedCommit],
    replace: bool,
    report: RebuildReport,
) -> None:
    existing = set(await redis.create(prepared, replace=replace))
    for commit in prepared:
        if commit.order_id not in existing:
            report.events += commit.events
            report.changed += commit.change is not None
    if existing:
        events = [
            with_order(parse_event(document), order_id)
            for order_id, documents in chunk
            if order_id in existing
            for document in documents
        ]
        report.changed += len(await redis.apply(events))
        await redis.writer.complete(existing)  # an order that had expired is whole again
        report.events += len({event.event_id for event in events})
    report.orders += len(chunk)


async def rebuild(
    log: ClickHouseStore,
    redis: RedisTimelineStore,
    *,
    order_id: str | None = None,
    replace: bool = False,
    batch_events: int = 5000,
    workers: int = 0,
    progress: Progress | None = None,
) -> RebuildReport:
    """Refold every order (or one) of the log into Redis; ``workers`` processes (0: inline)."""
    report = RebuildReport()
    loop = asyncio.get_running_loop()
    pool: Executor | None = None
    if workers:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    in_flight: deque[tuple[Chunk, asyncio.Future[list[PreparedCommit]]]] = deque()

    async def settle_one() -> None:
        chunk, future = in_flight.popleft()
        await _write(redis, chunk, await future, replace, report)
        if progress is not None:
            progress(report.events, report.orders)

    async def submit(chunk: Chunk) -> None:
        if pool is None:
            future = loop.create_future()
            future.set_result(prepare_chunk(redis.keys.prefix, chunk))
        else:
            future = loop.run_in_executor(pool, prepare_chunk, redis.keys.prefix, chunk)
        in_flight.append((chunk, future))
        while len(in_flight) > 2 * max(workers, 0):
            await settle_one()

    try:
        chunk: Chunk = []
        size = 0
        async for oid, documents in log.order_documents(order_id):
            chunk.append((oid, documents))
            size += len(documents)
            if size >= batch_events:
                await submit(chunk)
                chunk, size = [], 0
        if chunk:
            await submit(chunk)
        while in_flight:
            await settle_one()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    report.seconds = time.perf_counter() - report.started
    return report
