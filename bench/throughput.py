"""Timeline-agent throughput, next to a do-nothing Faust agent measured the same way.

``python -m bench.throughput --orders 5000`` starts the embedded services, puts the canonical events
of a generated history on the events topic (keyed by order, scans linked), then runs one worker
process per variant, each reading the whole topic from the start in a consumer group of its own:

- ``kafka``: a raw aiokafka consumer counting the messages (what the broker and client can do);
- ``noop``: a Faust agent taking the same batches and doing nothing with them;
- ``timeline``: the real timeline agent (decode, ``RedisTimelineStore.apply``, publish updates);
- ``timeline+warehouse``: the same plus the ClickHouse writer (chDB) in the same process.

Each run is timed from its first event to its last, so the group join is not counted; every
timeline run writes to a fresh Redis key prefix and a fresh chDB path. Prints one JSON line per
run and a summary with events/s and the ratio to the do-nothing agent; ``wismo bench
throughput`` runs the same through :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from cli.runtime.embedded import delete_prefix
from projections.ordering import sort_key
from streams.context import StreamContext, declare_topics
from wismo.events import Event, dump_event
from wismo.settings import Settings
from wismo.topics import EVENTS

VARIANTS = ("kafka", "noop", "timeline", "timeline+warehouse")
#: canonical events per generated order, about (to size a run by its events)
EVENTS_PER_ORDER = 10


#: how the generated events reach the topic (``--arrival``)
ARRIVALS = ("timely", "shuffled")
#: with ``timely`` arrival, the share of events that come late (after the whole stream)
LATE_SHARE = 0.05


def arrival_order(
    by_order: dict[str, list[Event]], seed: int, arrival: str = "timely"
) -> list[tuple[str, Event]]:
    """The (order id, event) sequence a run puts on the events topic.

    ``timely`` is how live traffic looks: orders interleave at random, so a batch holds events
    of many orders, but each order's events come in the order they happened, except a
    :data:`LATE_SHARE` of them that arrive after everything else. ``shuffled`` puts every event
    anywhere (each order's events in a random order): the worst case for a timeline worker,
    which then folds most orders from scratch.
    """
    rng = random.Random(seed)
    if arrival == "shuffled":
        everything = [(order_id, e) for order_id, events in by_order.items() for e in events]
        rng.shuffle(everything)
        return everything
    if arrival != "timely":
        raise ValueError(f"arrival must be one of {ARRIVALS}, not {arrival!r}")
    queues = {order_id: sorted(events, key=sort_key) for order_id, events in by_order.items()}
    turns = [order_id for order_id, events in queues.items() for _ in events]
    rng.shuffle(turns)
    taken = dict.fromkeys(queues, 0)
    on_time: list[tuple[str, Event]] = []
    late: list[tuple[str, Event]] = []
    for order_id in turns:
        event = queues[order_id][taken[order_id]]
        taken[order_id] += 1
        (late if rng.random() < LATE_SHARE else on_time).append((order_id, event))
    return on_time + late


async def _produce(settings: Settings, orders: int, seed: int, arrival: str = "timely") -> int:
    from aiokafka import AIOKafkaProducer

    from bench.history import generate
    from bench.orders import FLOW
    from streams.routing import linked

    history = generate(orders, seed=seed, duplicate_share=0, malformed_share=0, mix=FLOW)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap, linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    sent = 0
    try:
        messages = [
            (order_id, dump_event(linked(event, order_id) if event.order_id is None else event))
            for order_id, event in arrival_order(history.by_order(), seed, arrival)
        ]
        futures = []
        for order_id, value in messages:
            futures.append(
                await producer.send(settings.topic(EVENTS), value, key=order_id.encode())
            )
            sent += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


def _child_env(settings: Settings, run: str) -> dict[str, str]:
    assert settings.kafka.bootstrap is not None
    assert settings.redis.url is not None
    return {
        **os.environ,
        "WISMO_KAFKA__BOOTSTRAP": settings.kafka.bootstrap,
        "WISMO_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "WISMO_KAFKA__PARTITIONS": str(settings.kafka.partitions),
        "WISMO_REDIS__URL": settings.redis.url,
        "WISMO_REDIS__KEY_PREFIX": f"wismo-bench-{run}",
        "WISMO_DATA_DIR": str(settings.data_dir),
        "WISMO_CLICKHOUSE__CHDB_PATH": str(settings.data_dir / f"chdb-{run}"),
    }


def _run_variant(
    settings: Settings, variant: str, expected: int, timeout_s: float = 600.0
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    command = [sys.executable, "-m", "bench.throughput", "--child", variant]
    command += ["--expect", str(expected)]
    result = subprocess.run(
        command,
        env=_child_env(settings, run),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert settings.redis.url is not None
    delete_prefix(settings.redis.url, f"wismo-bench-{run}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{variant} run failed:\n{result.stderr[-3000:]}")
    outcome: dict[str, Any] = orjson.loads(lines[-1])
    return outcome


def _noop(ctx: StreamContext) -> None:
    kafka = ctx.settings.kafka

    async def noop_agent(stream: Any) -> AsyncIterator[None]:
        async for batch in stream.take_events(kafka.batch_size, within=kafka.batch_timeout_s):
            ctx.metrics.events_in.labels("noop", "-").inc(len(batch))
            yield None

    ctx.app.agent(ctx.topics.events, name="noop")(noop_agent)


async def _raw_consume(settings: Settings, expected: int) -> dict[str, Any]:
    """The events topic read by a bare aiokafka consumer: the ceiling any agent works under."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = settings.topic(EVENTS)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
        # timed from the assignment, which starts the fetching: the first fetch already
        # brings most of a small topic
        started = time.perf_counter()
        consumer.assign(partitions)
        done = 0
        while done < expected:
            batches = await consumer.getmany(timeout_ms=100, max_records=10_000)
            done += sum(len(messages) for messages in batches.values())
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {
        "variant": "kafka",
        "events": done,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done / elapsed, 1) if elapsed else 0.0,
    }


def _child(variant: str, expected: int) -> None:
    """Run one variant in this process until ``expected`` events went through; print the result."""

    from streams.agents import timeline, warehouse
    from streams.app import create_app, create_worker, use_uvloop
    from wismo.gc_tuning import tune_gc
    from wismo.settings import load_settings

    settings = load_settings()
    use_uvloop()
    if variant == "kafka":
        print(orjson.dumps(asyncio.run(_raw_consume(settings, expected))).decode(), flush=True)
        return
    run = uuid.uuid4().hex[:8]
    app = create_app(settings, web_port=_free_port(), app_id=f"bench-{run}")
    ctx = StreamContext(settings, app, declare_topics(app, settings))
    if variant == "noop":
        _noop(ctx)
    else:
        timeline.register(ctx)
    if variant == "timeline+warehouse":
        warehouse.register(ctx, group=f"bench-{run}-warehouse")
    counted = "noop" if variant == "noop" else "timeline"
    # with the warehouse, the run ends when ClickHouse has every event too
    finishers = [counted, "warehouse"] if variant == "timeline+warehouse" else [counted]

    def processed(agent: str) -> float:
        total = 0.0
        for metric in ctx.metrics.events_in.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels.get("agent") == agent:
                    total += sample.value
        return total

    async def stopwatch() -> None:
        first: float | None = None
        while True:
            # collecting the counters costs the measured process: look 20 times a second
            await asyncio.sleep(0.05)
            if first is None and processed(counted) > 0:
                first = time.perf_counter()
            if first is not None and all(processed(a) >= expected for a in finishers):
                elapsed = time.perf_counter() - first
                done = processed(counted)
                result = {"variant": variant, "events": done, "seconds": round(elapsed, 3)}
                result["events_per_s"] = round(done / elapsed, 1)
                print(orjson.dumps(result).decode(), flush=True)
                os._exit(0)  # the measurement is taken; no need for an orderly shutdown

    app.task(stopwatch)
    worker = create_worker(app, loglevel="WARNING")
    tune_gc()
    worker.execute_from_commandline()


def _free_port() -> int:
    from cli.runtime.embedded import free_port

    return free_port()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="runs per variant (best is kept)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--arrival", choices=ARRIVALS, default="timely")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.expect)
        return 0
    return _parent(args)


def _parent(args: argparse.Namespace) -> int:
    variants = [v for v in args.variants.split(",") if v]
    summary = run(
        args.orders,
        args.partitions,
        args.repeat,
        variants,
        args.seed,
        _stderr,
        arrival=args.arrival,
    )
    print(orjson.dumps(summary).decode())
    return 0


def _stderr(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def run(
    orders: int,
    partitions: int,
    repeat: int,
    variants: list[str],
    seed: int,
    progress: Callable[[str], None],
    *,
    timeout_s: float = 600.0,
    arrival: str = "timely",
) -> dict[str, Any]:
    """Every variant ``repeat`` times on the same events (best kept); a flat summary."""
    from cli.runtime.embedded import EmbeddedServices
    from wismo.settings import KafkaSettings
    from wismo.topics import ensure_topics

    with tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch:
        requested = Settings(
            data_dir=Path(scratch),
            kafka=KafkaSettings(topic_prefix=f"bench{uuid.uuid4().hex[:6]}", partitions=partitions),
        )
        with EmbeddedServices(requested) as services:
            settings = services.settings
            asyncio.run(ensure_topics(settings))
            events = asyncio.run(_produce(settings, orders, seed, arrival))
            progress(
                f"{events} canonical events of {orders} orders on {partitions} partitions,"
                f" {arrival} arrival"
            )
            best: dict[str, float] = {}
            counted: dict[str, int] = {}
            for attempt in range(1, repeat + 1):
                for variant in variants:
                    outcome = _run_variant(settings, variant, events, timeout_s)
                    progress(f"{variant} run {attempt}/{repeat}: {outcome['events_per_s']} ev/s")
                    best[variant] = max(best.get(variant, 0.0), outcome["events_per_s"])
                    counted[variant] = int(outcome["events"])
    summary: dict[str, Any] = {"scenario": "throughput", "events": events, "orders": orders}
    summary["partitions"] = partitions
    summary["arrival"] = arrival
    for variant, rate in best.items():
        name = variant.replace("+", "_")
        summary[f"{name}_events_per_s"] = rate
        summary[f"{name}_events_counted"] = counted[variant]
    for reference in ("noop", "kafka"):
        if reference in best:
            for variant, rate in best.items():
                if variant != reference:
                    name = variant.replace("+", "_")
                    summary[f"{name}_to_{reference}"] = round(rate / best[reference], 3)
    return summary


if __name__ == "__main__":
    sys.exit(main())
