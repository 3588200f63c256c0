"""Recompute Redis timelines from the ClickHouse event log, in bulk, with the same fold.

The log holds every event (invariant 7), so folding it into Redis again converges on exactly
what the live path built: the same merge plan, fold and commit script are used. Orders are
created in pipelined batches (:func:`projections.rebuild_workers.write_chunk`); an order Redis
already holds (a merging rebuild while workers run) or that changed meanwhile is applied the
ordinary, idempotent way instead, so events Redis holds and the log does not yet are kept.
``replace=True`` first drops each order's Redis state, for when Redis holds something the log
disproves.

With ``workers`` processes this process only reads the log and hands out chunks of whole
orders; each worker folds *and writes* its chunks on a Redis connection of its own
(:mod:`projections.rebuild_workers`).

A replacing rebuild starts from the timeline snapshots ClickHouse keeps, where it can: an order
whose latest snapshot was written by the running fold (:mod:`projections.fold_fingerprint`) and
covers exactly its logged events (:mod:`projections.snapshots`) is written from it, with its
events as logged, without a refold. The verification pass refolds a sample of those orders
(``check_share``) and compares; a difference means the fingerprint missed a change, so the
rebuild trusts no snapshot from then on and, once through, refolds everything again. A merging
rebuild (not ``replace``) always refolds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from projections.clickhouse_store import ClickHouseStore
from projections.errors import StoreError
from projections.fold_fingerprint import fold_fingerprint
from projections.rebuild_workers import (
    Chunk,
    ChunkCounts,
    StoreRecipe,
    write_chunk,
    write_in_worker,
)
from projections.redis_store import RedisTimelineStore

Progress = Callable[[int, int], None]
"""Called with (events done, orders done) after each batch."""


@dataclass(slots=True)
class RebuildReport:
    orders: int = 0
    events: int = 0
    changed: int = 0
    seconds: float = 0.0
    writing_cpu_s: float = 0.0
    """CPU time spent folding and writing, in whichever process did it."""
    from_snapshots: int = 0
    """Orders written from their snapshot instead of a refold."""
    checked: int = 0
    """Snapshots the verification pass refolded."""
    mismatches: int = 0
    """Checked snapshots that differed from the refold (then everything was refolded)."""
    refolded_again: bool = False
    """Whether a mismatch made the rebuild refold every order a second time."""
    started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def add(self, counts: ChunkCounts) -> None:
        self.orders += counts.orders
        self.events += counts.events
        self.changed += counts.changed
        self.writing_cpu_s += counts.cpu_s
        self.from_snapshots += counts.from_snapshots
        self.checked += counts.checked
        self.mismatches += counts.mismatches


def forkserver() -> multiprocessing.context.ForkServerContext:
    """Rebuilding processes are forked from one clean server that imported the fold once (a
    spawned process would import it again, about half a CPU second each); never forked from
    this process, whose ClickHouse engine runs threads. Started on first use, or by
    :func:`start_forkserver`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["projections.rebuild_workers"])
    return context


def start_forkserver() -> None:
    """Start the server rebuilding processes are forked from now (it lives as long as this
    process), so that a rebuild timed afterwards does not include its start."""
    first = forkserver().Process(target=time.sleep, args=(0,))  # forked once it has imported
    first.start()
    first.join()


async def rebuild(
    log: ClickHouseStore,
    redis: RedisTimelineStore,
    *,
    order_id: str | None = None,
    replace: bool = False,
    batch_events: int = 5000,
    workers: int = 0,
    recipe: StoreRecipe | None = None,
    progress: Progress | None = None,
    snapshots: bool = True,
    check_share: float = 0.02,
) -> RebuildReport:
    """Refold every order (or one) of the log into Redis.

    ``workers`` processes (0: in this process) each open the store ``recipe`` describes, which
    must be the one ``redis`` is. With ``replace`` and ``snapshots``, orders are written from
    the snapshots that stand in for a refold, ``check_share`` of them checked by one.
    """
    args = (order_id, replace, batch_events, workers, recipe, progress)
    report = await _rebuild(log, redis, *args, snapshots=snapshots and replace, share=check_share)
    if report.mismatches:
        again = await _rebuild(log, redis, *args, snapshots=False, share=0.0)
        again.from_snapshots, again.checked = report.from_snapshots, report.checked
        again.mismatches, again.refolded_again = report.mismatches, True
        again.started = report.started
        again.seconds = time.perf_counter() - report.started
        report = again
    return report


async def _rebuild(
    log: ClickHouseStore,
    redis: RedisTimelineStore,
    order_id: str | None,
    replace: bool,
    batch_events: int,
    workers: int,
    recipe: StoreRecipe | None,
    progress: Progress | None,
    *,
    snapshots: bool,
    share: float,
) -> RebuildReport:
    report = RebuildReport()
    loop = asyncio.get_running_loop()
    pool: ProcessPoolExecutor | None = None
    if workers:
        if recipe is None:
            raise ValueError("rebuilding processes need the recipe of the store they write to")
        pool = ProcessPoolExecutor(workers, mp_context=forkserver())
    in_flight: deque[Awaitable[ChunkCounts]] = deque()

    async def settle_one() -> None:
        try:
            report.add(await in_flight.popleft())
        except BrokenProcessPool as error:
            raise StoreError(f"a rebuilding process died: {error}") from error
        if progress is not None:
            progress(report.events, report.orders)

    async def submit(chunk: Chunk) -> None:
        if report.mismatches:  # the fingerprint missed a change: no snapshot is trusted now
            for source in chunk:
                source.snapshot = None
        if pool is None or recipe is None:
            in_flight.append(write_chunk(redis, chunk, replace, share))
        else:
            in_flight.append(
                loop.run_in_executor(pool, write_in_worker, recipe, chunk, replace, share)
            )
        while len(in_flight) > 2 * workers:
            await settle_one()

    try:
        chunk: Chunk = []
        size = 0
        fold = fold_fingerprint() if snapshots else ""
        async for source in log.order_sources(order_id, fold=fold):
            chunk.append(source)
            size += len(source.events)
            if size >= batch_events:
                await submit(chunk)
                chunk, size = [], 0
        if chunk:
            await submit(chunk)
        while in_flight:
            await settle_one()
    finally:
        for pending in in_flight:  # coroutines never awaited (an error cut the rebuild short)
            if asyncio.iscoroutine(pending):
                pending.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    report.seconds = time.perf_counter() - report.started
    return report
