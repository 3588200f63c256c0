"""Recompute Redis timelines from the ClickHouse event log, in bulk, with the same fold.

The log holds every event (invariant 7), so applying it to the Redis store again converges on
exactly what the live path built: the apply is idempotent and a function of the set. By
default the rebuild *merges* (safe while the live path runs: events Redis holds and the log
does not yet are kept); ``replace=True`` first drops each order's Redis state, for when Redis
holds something the log disproves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from projections.clickhouse_store import ClickHouseStore
from projections.redis_store import RedisTimelineStore
from wismo.events import Event

Progress = Callable[[int, int], None]
"""Called with (events done, orders done) after each batch."""


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


async def rebuild(
    log: ClickHouseStore,
    redis: RedisTimelineStore,
    *,
    order_id: str | None = None,
    replace: bool = False,
    batch_events: int = 5000,
    progress: Progress | None = None,
) -> RebuildReport:
    report = RebuildReport()
    batch: list[Event] = []
    orders: list[str] = []

    async def write() -> None:
        if replace:
            await redis.drop(orders)
        report.changed += len(await redis.apply(batch))
        report.events += len(batch)
        report.orders += len(orders)
        batch.clear()
        orders.clear()
        if progress is not None:
            progress(report.events, report.orders)

    async for oid, events in log.order_events(order_id):
        batch += events
        orders.append(oid)
        if len(batch) >= batch_events:
            await write()
    if batch:
        await write()
    report.seconds = time.perf_counter() - report.started
    return report
