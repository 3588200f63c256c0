"""A writer process for the crash tests: one batch to Redis, then to ClickHouse, as the stream does.

``python -m tests.projections.crash_writer --pause after-redis …`` prints ``paused`` at that point
and waits to be killed; without ``--pause`` it finishes and prints a JSON report of what
ClickHouse holds. The batch is deterministic (orders and seed), as a replay from Kafka would be.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson
import redis.asyncio as aioredis

from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.redis_store import RedisTimelineStore
from tests.projections.synthetic import events_for
from wismo.settings import ClickHouseSettings, Settings


async def _pause(point: str, wanted: str | None) -> None:
    if point == wanted:
        print("paused", flush=True)
        await asyncio.sleep(3600)


async def main(args: argparse.Namespace) -> dict[str, int]:
    batch = events_for(args.orders, args.seed)
    client = aioredis.Redis.from_url(args.redis)
    redis = RedisTimelineStore(client, args.prefix)
    settings = Settings(clickhouse=ClickHouseSettings(chdb_path=args.chdb))
    ch = await ClickHouse.connect(settings)
    writer = ClickHouseWriter(ch, batch_rows=args.batch_rows)
    try:
        await redis.apply(batch)
        await _pause("after-redis", args.pause)
        await writer.add_events(batch)
        await writer.flush()
        await _pause("after-events", args.pause)
        # a replayed batch changes nothing in Redis, so pass on what Redis now holds
        await writer.add_changes(await redis.current(sorted({e.order_id or "" for e in batch})))
        await writer.flush()
        mismatched = 0
        for order_id, document in await ch.rows(
            "SELECT order_id, timeline_json FROM {db}.timelines FINAL"
        ):
            mismatched += document.encode() != await redis.timeline(order_id)
        counts = await ch.rows(
            "SELECT (SELECT count() FROM {db}.events), (SELECT uniqExact(event_id) FROM "
            "{db}.events), (SELECT count() FROM {db}.timelines), "
            "(SELECT count() FROM {db}.shipments)"
        )
        raw, distinct, timelines, shipments = counts[0]
        return {
            "events_raw": raw,
            "events_distinct": distinct,
            "timelines_raw": timelines,
            "shipments_raw": shipments,
            "mismatched": mismatched,
        }
    finally:
        await ch.close()
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--chdb", required=True)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--pause", choices=["after-redis", "after-events"])
    report = asyncio.run(main(parser.parse_args()))
    sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
