"""Re-reading an expired order from the ClickHouse log into Redis, on demand.

The log holds every event (invariant 7), so an order whose Redis keys expired
(:mod:`projections.retention`) is folded again from it: its events are applied to the Redis
store the ordinary, idempotent way, which merges them with whatever Redis received after the
expiry, and the ``partial`` flag is cleared. Only a process that can open ClickHouse can do this
(with chDB, the one holding its path: docs/adr/0003).
"""

from __future__ import annotations

from projections.clickhouse_store import ClickHouseStore
from projections.redis_store import RedisTimelineStore


async def restore_order(
    log: ClickHouseStore, store: RedisTimelineStore, order_id: str
) -> bytes | None:
    """The order's timeline JSON once refolded from the log; ``None`` when the log has none."""
    events = await log.events(order_id)
    if not events:
        return None
    store.writer.forget(order_id)  # what this process last wrote may have expired since
    await store.apply(events)
    await store.writer.complete([order_id])
    return await store.timeline(order_id)
