"""The link agent's Redis work per batch: ``python -m tests.streams.bench_link``.

A tracking stream of ``--numbers`` numbers, each with ``--early`` scans before its shipment and
the rest after, interleaved at random (``--numbers 1000 --scans 4`` is 5,000 messages), goes
through the link step in batches of ``--batch`` against the real Redis, two ways over the same
stream: the batch step the agent runs (:func:`streams.agents.link.link_batch`: a constant number
of pipelined round trips per batch) and, as the same-run baseline, one message at a time with a
round trip per message (what the agent did before). The events topic is a stand-in that
acknowledges at once, so only the link logic and Redis are measured. Both runs must forward and
park the same scans.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from projections.links import LinkIndex
from streams.agents.link import link_batch
from streams.linking import Tracked
from streams.metrics import StreamMetrics
from streams.routing import linked
from tests.streams.link_stream import CountingRedis, Sink, tracking_stream
from wismo.events import dump_event, parse_event

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def one_at_a_time(index: LinkIndex, batch: Sequence[Tracked], send: Sink) -> None:
    """The agent's former step: a Redis round trip (or two) per message."""
    deliveries: list[Awaitable[Any]] = []
    released: dict[str, list[str]] = {}
    for item in batch:
        number, event = item.number, item.event
        if event.order_id is not None:
            await index.record({number: event.order_id}, {})
            parked = (await index.lookup((), (number,)))[1].get(number, {})
            for raw in parked.values():
                scan = linked(parse_event(raw), event.order_id)
                deliveries.append(await send(event.order_id, dump_event(scan)))
            if parked:
                released[number] = list(parked)
            continue
        order_id = (await index.lookup((number,), ()))[0][number]
        if order_id is None:
            await index.record({}, {number: {event.event_id: dump_event(event)}})
            continue
        deliveries.append(await send(order_id, dump_event(linked(event, order_id))))
    await asyncio.gather(*deliveries)
    for number, event_ids in released.items():
        await index.forget({number: event_ids})


async def run(way: str, stream: Sequence[Tracked], size: int) -> dict[str, Any]:
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"wismo-bench-{uuid.uuid4().hex[:8]}"
    counting = CountingRedis(client)
    index = LinkIndex(counting, prefix)  # type: ignore[arg-type]
    sink, metrics = Sink(), StreamMetrics()
    try:
        started = time.perf_counter()
        for start in range(0, len(stream), size):
            batch = stream[start : start + size]
            if way == "batched":
                await link_batch(index, batch, sink, metrics)
            else:
                await one_at_a_time(index, batch, sink)
        elapsed = time.perf_counter() - started
        _, parked = await LinkIndex(client, prefix).lookup([], sorted({t.number for t in stream}))
        return {
            "way": way,
            "messages": len(stream),
            "seconds": round(elapsed, 3),
            "msg_per_s": round(len(stream) / elapsed),
            "round_trips": counting.trips,
            "forwarded": sink.forwarded(),
            "parked": {n: sorted(ids) for n, ids in parked.items()},
        }
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    stream = tracking_stream(args.numbers, args.scans, early=args.early, seed=args.seed)
    results: list[dict[str, Any]] = []
    for _ in range(args.rounds):  # alternate, so both see the same load
        for way in ("one-at-a-time", "batched"):
            results.append(await run(way, stream, args.batch))
    reference = results[0]
    for result in results:
        assert result["forwarded"] == reference["forwarded"], "the two ways forward differently"
        assert result["parked"] == reference["parked"], "the two ways park differently"
    return results


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    forwarded = sum(results[0]["forwarded"].values())
    print(
        f"{results[0]['messages']} tracking messages, batches of "
        f"{args.batch}, {forwarded} forwarded; load {load:.2f}"
    )
    print(f"{'way':<15} {'msg/s':>8} {'seconds':>8} {'round trips':>12}")
    for result in results:
        print(
            f"{result['way']:<15} {result['msg_per_s']:>8} {result['seconds']:>8} "
            f"{result['round_trips']:>12}"
        )
    best = {
        way: max(r["msg_per_s"] for r in results if r["way"] == way)
        for way in ("one-at-a-time", "batched")
    }
    summary = {
        "bench": "link",
        "messages": results[0]["messages"],
        "batch": args.batch,
        "best_msg_per_s": best,
        "speedup": round(best["batched"] / best["one-at-a-time"], 1),
        "round_trips": {r["way"]: r["round_trips"] for r in results[:2]},
        "load_1m": round(load, 2),
    }
    print(orjson.dumps(summary).decode())


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--numbers", type=int, default=1000, help="tracking numbers")
    parser.add_argument("--scans", type=int, default=4, help="scans per number")
    parser.add_argument("--early", type=int, default=1, help="of them, before the shipment")
    parser.add_argument("--batch", type=int, default=500, help="messages per batch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    args = arguments()
    report(asyncio.run(main(args)), args)
