"""After ``wismo up`` ended without draining: give ClickHouse what Redis has and it lacks.

The intake journal brings back every payload the API accepted, but not what the stream derived
on its own and already applied to Redis before the crash — an exception the detector opened,
say: the replay finds it open and derives nothing new, so the ClickHouse log would lack it for
good. On a start after such an end, :func:`reconcile_clickhouse` compares, order by order, the
event ids Redis holds with the log and writes the missing events (their Redis copies, linked),
and writes each timeline whose Redis version is ahead of the log's. Writes are the usual
idempotent ones (dedup tokens, ``ReplacingMergeTree``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import redis.asyncio as aioredis

from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.connections import redis_client
from projections.redis_keys import RedisKeys
from projections.store import TimelineChange
from wismo.events import Event, parse_event
from wismo.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 500
_LOGGED_IDS = "SELECT DISTINCT event_id FROM {db}.events WHERE event_id IN {ids:Array(String)}"
_LOGGED_VERSIONS = """
SELECT order_id, max(version) FROM {db}.timelines WHERE order_id IN {orders:Array(String)}
GROUP BY order_id
"""


async def reconcile_clickhouse(settings: Settings) -> tuple[int, int]:
    """Write what Redis holds and ClickHouse lacks; returns (events, timelines) written."""
    client = await redis_client(settings)
    keys = RedisKeys(settings.redis.key_prefix)
    ch = await ClickHouse.connect(settings)
    writer = ClickHouseWriter.from_settings(ch, settings)
    written = (0, 0)
    try:
        orders = [order async for order in _orders(client, keys)]
        for start in range(0, len(orders), CHUNK):
            chunk = orders[start : start + CHUNK]
            async with client.pipeline(transaction=False) as pipe:
                for order_id in chunk:
                    pipe.hgetall(keys.events(order_id))
                    pipe.hmget(keys.state(order_id), "json", "version", "digest", "status")
                replies = await pipe.execute()
            events = {
                key.decode(): value
                for index in range(len(chunk))
                for key, value in replies[2 * index].items()
            }
            missing = await _missing_events(ch, events)
            changes = await _behind_timelines(ch, chunk, replies[1::2])
            await writer.add_events(missing)
            await writer.add_changes(changes)
            written = (written[0] + len(missing), written[1] + len(changes))
        await writer.flush()
    finally:
        await ch.close()
        await client.aclose()
    if any(written):
        log.info("clickhouse reconciled from redis: %d events, %d timelines", *written)
    return written


async def _orders(client: aioredis.Redis, keys: RedisKeys) -> AsyncIterator[str]:
    head, tail = f"{keys.prefix}:{{", "}:state"
    async for key in client.scan_iter(match=f"{keys.prefix}:{{*}}:state", count=1000):
        text = key.decode()
        if text.startswith(head) and text.endswith(tail):
            yield text[len(head) : -len(tail)]


async def _missing_events(ch: ClickHouse, events: dict[str, bytes]) -> list[Event]:
    if not events:
        return []
    logged = {row[0] for row in await ch.rows(_LOGGED_IDS, ids=sorted(events))}
    return [parse_event(events[event_id]) for event_id in sorted(events.keys() - logged)]


async def _behind_timelines(
    ch: ClickHouse, orders: Sequence[str], states: Sequence[list[bytes | None]]
) -> list[TimelineChange]:
    logged = dict(await ch.rows(_LOGGED_VERSIONS, orders=list(orders)))
    changes = []
    for order_id, (document, version, digest, status) in zip(orders, states, strict=True):
        if document is None or version is None:
            continue
        if int(version) > int(logged.get(order_id, -1)):
            changes.append(
                TimelineChange(
                    order_id,
                    int(version),
                    (digest or b"").decode(),
                    (status or b"").decode(),
                    document,
                )
            )
    return changes
