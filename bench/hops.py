"""Where a webhook's latency goes: the time each topic hop adds, from Kafka record timestamps.

``wismo bench hops`` sets up the same orders as ``wismo bench latency`` (API and one worker in
processes of their own), posts ``events`` signed scans at ``rate``/s one at a time, then reads
the raw, tracking, events and timeline topics back and finds each scan there by its event id.
Every record carries the time its producer created it (the API for raw, the normalise agent
for tracking, the link agent for events, the timeline agent — after the Redis commit — for
timeline), all on this host's clock, so the differences are the hops: POST → raw, normalise,
link, timeline. What follows the commit (Redis publish → API → websocket) is what ``wismo bench
latency`` adds on top.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench import stack
from bench.latency import LIVE_FROM, scan_webhook, setup_parcels
from bench.orders import Parcel
from bench.stats import Progress, percentiles
from bench.wire import open_http
from wismo.settings import Settings
from wismo.topics import EVENTS, RAW, TIMELINE, TRACKING

#: (name, from topic, to topic); ``None`` is the moment the POST was sent
HOPS: tuple[tuple[str, str | None, str], ...] = (
    ("post_to_raw", None, RAW),
    ("normalise", RAW, TRACKING),
    ("link", TRACKING, EVENTS),
    ("timeline", EVENTS, TIMELINE),
    ("post_to_commit", None, TIMELINE),
)
SETTLE_S = 3.0  # after the last POST, before the topics are read back


@dataclass(frozen=True)
class HopsOptions:
    orders: int = 50
    rate: float = 20.0
    events: int = 200
    batch_timeout_s: float | None = None


def hop_summary(
    posted: Mapping[int, float], stamps: Mapping[str, Mapping[int, float]]
) -> dict[str, Any]:
    """Percentiles of every hop over the scans seen at both of its ends, and how many were."""
    summary: dict[str, Any] = {"posted": len(posted)}
    for topic, seen in stamps.items():
        summary[f"seen_{topic}"] = sum(1 for n in posted if n in seen)
    for name, start, end in HOPS:
        samples = [
            stamps[end][n] - (posted[n] if start is None else stamps[start][n])
            for n in posted
            if n in stamps[end] and (start is None or n in stamps[start])
        ]
        summary.update(percentiles(samples, f"{name}_"))
    return summary


async def _post(
    settings: Settings, options: HopsOptions, parcels: list[Parcel], run: str
) -> dict[int, float]:
    port = settings.api.port
    secret = settings.webhook_secrets["oms"][0].get_secret_value()
    connection = await open_http(port)
    posted: dict[int, float] = {}
    started = time.perf_counter()
    try:
        for n in range(options.events):
            delay = started + n / options.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            raw = scan_webhook(
                parcels[n % len(parcels)], n, LIVE_FROM + timedelta(seconds=n), run, secret, port
            )
            sent = time.time()  # the records' clock
            status, _ = await connection.request(raw)
            if status == 202:
                posted[n] = sent
    finally:
        connection.close()
    return posted


async def _stamps(settings: Settings, run: str) -> dict[str, dict[int, float]]:
    """Per topic, scan number → the creation time of the first record that names the scan."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    pattern = re.compile(rb"bench:" + run.encode() + rb":[^:\"]+:([0-9]+)")
    stamps: dict[str, dict[int, float]] = {}
    for logical in (RAW, TRACKING, EVENTS, TIMELINE):
        topic = settings.topic(logical)
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(settings.kafka.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            seen: dict[int, float] = {}
            while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        for match in pattern.findall(record.value or b""):
                            seen.setdefault(int(match), record.timestamp / 1000)
        finally:
            await consumer.stop()
        stamps[logical] = seen
    return stamps


def run(options: HopsOptions, progress: Progress) -> dict[str, Any]:
    with (
        stack.embedded(batch_timeout_s=options.batch_timeout_s) as bench,
        stack.running(bench, ("normalise", "timeline", "api")),
    ):
        settings = bench.settings
        progress(f"folding {options.orders} orders through the worker")
        parcels = asyncio.run(setup_parcels(settings, options.orders))
        run_id = uuid.uuid4().hex[:8]
        progress(f"posting {options.events} scans at {options.rate:g}/s, one at a time")
        posted = asyncio.run(_post(settings, options, parcels, run_id))
        time.sleep(SETTLE_S)
        progress("reading the topics back")
        stamps = asyncio.run(_stamps(settings, run_id))
    return {
        "scenario": "hops",
        "orders": options.orders,
        "target_rate": options.rate,
        "batch_timeout_s": settings.kafka.batch_timeout_s,
        **hop_summary(posted, stamps),
    }
