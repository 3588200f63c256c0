"""Retention in Redis: a final order's keys and index entries expire, a live order's stay, and
an expired order is re-read from the ClickHouse log on demand (also after a late event)."""

from __future__ import annotations

import asyncio
import random

import orjson
import redis.asyncio as aioredis

from projections.clickhouse_store import ClickHouseStore
from projections.redis_store import RedisTimelineStore
from projections.restore import restore_order
from projections.retention import FINAL_STATUSES, document_tracking_numbers
from projections.timeline import fold
from tests.projections.conftest import REDIS_URL
from tests.projections.synthetic import order_history
from wismo.events import Event

KEEP_S = 1


def _orders(count: int = 40) -> tuple[list[list[Event]], list[list[Event]]]:
    """Histories of final orders and of orders still under way."""
    rng = random.Random(11)
    final, live = [], []
    for index in range(count):
        history = order_history(index, rng)
        status = fold(history, history[0].order_id or "").status
        (final if status in FINAL_STATUSES else live).append(history)
    assert final
    assert live
    return final, live


async def _keys(client: aioredis.Redis, prefix: str) -> set[str]:
    return {k.decode() async for k in client.scan_iter(match=f"{prefix}:*", count=1000)}


async def _index_mentions(
    client: aioredis.Redis, store: RedisTimelineStore, order_id: str
) -> list[str]:
    """Index entries (set members, exception rows, pointer strings) naming the order."""
    found = []
    for key in await _keys(client, store.keys.prefix):
        kind = await client.type(key)
        if kind == b"set":
            named = await client.sismember(key, order_id)
        else:
            named = kind == b"string" and await client.get(key) == order_id.encode()
        if named:
            found.append(key)
    for row in await store.agent_index.exceptions():
        if row["order_id"] == order_id:
            found.append(f"exception row {row['exception_id']}")
    return found


async def test_final_orders_expire_with_their_index_entries_live_ones_stay(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    final, live = _orders()
    store = RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL, retention_s=KEEP_S)
    await store.apply([e for history in final + live[:-1] for e in history])
    gone = final[0][0].order_id or ""
    kept = live[0][0].order_id or ""
    assert await _index_mentions(redis_client, store, gone)  # indexed while it is kept
    assert await redis_client.ttl(store.keys.state(gone)) > 0
    assert await redis_client.ttl(store.keys.state(kept)) == -1

    await asyncio.sleep(KEEP_S + 1.1)
    await store.apply(live[-1])  # a later commit sweeps what is due
    assert await store.timeline(gone) is None
    assert await store.expired(gone)
    assert not await redis_client.exists(store.keys.events(gone), store.keys.state(gone))
    assert await _index_mentions(redis_client, store, gone) == []
    assert await store.timeline(kept) is not None
    assert not await store.expired(kept)
    assert await _index_mentions(redis_client, store, kept)


async def test_an_order_leaving_its_final_state_is_kept_again(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    final, _ = _orders()
    history = final[0]
    order_id = history[0].order_id or ""
    store = RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL, retention_s=60)
    await store.apply(history)
    document = orjson.loads(await store.timeline(order_id) or b"")
    (number, *_) = document_tracking_numbers(document)
    assert await redis_client.ttl(store.keys.tracking(number)) > 0
    assert await redis_client.zscore(store.keys.retention_due, order_id) is not None

    shipped = next(e for e in history if e.kind == "fulfilment.shipped")
    payload = shipped.payload.model_copy(
        update={"shipment_id": "second", "tracking_number": "1ZSECOND0000", "packages": None}
    )
    another = shipped.model_copy(
        update={"event_id": "second-shipment", "tracking_number": None, "payload": payload}
    )
    (change,) = await store.apply([another])  # a second parcel on its way: no longer final
    assert change.status not in FINAL_STATUSES
    assert await redis_client.ttl(store.keys.state(order_id)) == -1
    assert await redis_client.ttl(store.keys.tracking(number)) == -1
    assert await redis_client.zscore(store.keys.retention_due, order_id) is None
    assert await redis_client.hget(store.keys.retention_orders, order_id) is None


async def test_an_expired_order_is_re_read_from_the_log(
    redis_client: aioredis.Redis, redis_prefix: str, clickhouse_store: ClickHouseStore
) -> None:
    final, _ = _orders()
    history = final[0]
    order_id = history[0].order_id or ""
    await clickhouse_store.apply(history)
    store = RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL, retention_s=KEEP_S)
    await store.apply(history)
    before = await store.timeline(order_id)
    await asyncio.sleep(KEEP_S + 1.1)
    assert await store.timeline(order_id) is None

    late = history[-1]  # a re-delivery after the expiry: Redis holds it alone, flagged partial
    fresh = RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL, retention_s=KEEP_S)
    await fresh.apply([late])
    assert await store.timeline(order_id) is None
    assert await store.current([order_id]) == []
    assert await store.expired(order_id)

    assert await restore_order(clickhouse_store, store, order_id) == before
    assert await store.timeline(order_id) == before
    assert not await store.expired(order_id)
    assert await redis_client.ttl(store.keys.state(order_id)) > 0
    assert await restore_order(clickhouse_store, store, "no-such-order") is None
