"""Apply throughput of the Redis timeline store: ``python -m tests.projections.bench_store``.

A stream of synthetic orders progressing side by side (``--live`` orders in flight, so a batch
touches many orders with one or two new events each, as a timeline partition sees it) is applied
in batches of ``--batch`` events. Reported: events/s for the Redis store and, as the floor set
by the pure fold, for the in-memory store over the same stream; as baselines, the Redis store
refolding every order on each event (``continue_folds=False``) and with no order cache at all.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis

from projections.memory_store import MemoryTimelineStore
from projections.redis_store import RedisTimelineStore
from projections.store import ProjectionStore
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.projections.synthetic import histories
from wismo.events import Event
from wismo.gc_tuning import tune_gc


def interleaved(orders: int, live: int, seed: int = 11) -> list[Event]:
    """Events of ``orders`` orders, ``live`` of them in flight at any time, each in its order."""
    rng = random.Random(seed)
    pending = histories(orders, seed)
    flight: list[list[Event]] = []
    stream: list[Event] = []
    while True:
        while len(flight) < live and (history := next(pending, None)) is not None:
            flight.append(history)
        if not flight:
            return stream
        index = rng.randrange(len(flight))
        stream.append(flight[index].pop(0))
        if not flight[index]:
            flight[index] = flight[-1]
            flight.pop()


async def measure(store: ProjectionStore, stream: Sequence[Event], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(stream), batch):
        await store.apply(stream[start : start + batch])
    return len(stream) / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> dict[str, object]:
    stream = interleaved(args.orders, args.live)
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"wismo-bench-{uuid.uuid4().hex[:8]}"
    try:
        memory = await measure(MemoryTimelineStore(), stream, args.batch)
        redis = await measure(RedisTimelineStore(client, prefix), stream, args.batch)
        refold = await measure(
            RedisTimelineStore(client, f"{prefix}:refold", continue_folds=False), stream, args.batch
        )
        cold = await measure(
            RedisTimelineStore(client, f"{prefix}:cold", cache_orders=0), stream, args.batch
        )
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()
    return {
        "events": len(stream),
        "orders": args.orders,
        "in_flight": args.live,
        "batch": args.batch,
        "memory_events_per_s": round(memory),
        "redis_events_per_s": round(redis),
        "redis_refold_events_per_s": round(refold),
        "redis_no_cache_events_per_s": round(cold),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--live", type=int, default=2000, help="orders in flight at once")
    parser.add_argument("--batch", type=int, default=500)
    tune_gc()  # as in a worker
    print(orjson.dumps(asyncio.run(main(parser.parse_args())), option=orjson.OPT_INDENT_2).decode())
