"""An expired order, re-read from the ClickHouse log on demand (:mod:`projections.restore`).

Redis drops an order some time after its final state (``retention.redis_days``); a read that
finds it gone refolds it from the log into Redis and answers as usual. That needs ClickHouse in
this process: with a ClickHouse server any API process opens it; with chDB only the process
holding the path (``wismo up``, or the API beside the warehouse role) can. Elsewhere the read
answers 404 with the reason (docs/guarantees.md, "Retention and erasure").
"""

from __future__ import annotations

from aiohttp import web

from api.clickhouse import clickhouse
from api.errors import NotFound, Unavailable
from api.keys import STORE
from projections.clickhouse_store import ClickHouseStore
from projections.restore import restore_order


async def reread(app: web.Application, order_id: str) -> bytes | None:
    """The order's timeline refolded from the log, if it expired from Redis; ``None`` for an
    order that never was (or that the log no longer holds)."""
    store = app[STORE]
    if not await store.expired(order_id):
        return None
    try:
        ch = await clickhouse(app)
    except Unavailable as error:
        raise NotFound(
            f"order {order_id} has expired from the live store and this process cannot re-read "
            f"it from ClickHouse: {error.reason}"
        ) from error
    return await restore_order(ClickHouseStore(ch), store, order_id)
