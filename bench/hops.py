"""Where a webhook's latency goes: the time each topic hop adds, from Kafka record timestamps.

``wismo bench hops`` sets up the same orders as ``wismo bench latency`` (API and one worker in
processes of their own), posts ``events`` signed scans at ``rate``/s one at a time, then reads
the raw, tracking, events and timeline topics back and finds each scan there by its event id.
Every record carries the time its producer created it (the API for raw, the normalise agent
for tracking, the link agent for events, the timeline agent — after the Redis commit — for
timeline), all on this host's clock, so the differences are the hops: POST → raw, normalise,
link, timeline. The scans' numbers are linked (the orders are shipped first), so by default the
normalise agent sends them straight to the events topic (``kafka.direct_linked_scans``) and
``raw_to_events`` is the one hop before the timeline; ``--via-link-agent`` sends them through
the tracking topic and the link agent, as before that setting. What follows the commit (Redis
publish → API → websocket) is what ``wismo bench latency`` adds on top.

Inside each hop the worker records spans (:class:`streams.batching.HopSpans`, switched on for
this run only): per agent, the time from the record's creation by its producer to its fetch by
the worker's consumer thread (``fetch``: the producer's send, the broker, the fetch), from there
to its receipt on the agents' event loop (``handover``), from there into the agent's buffer
(``stream``: Faust's conductor and stream), from there to the batch handed to the agent
(``batch_wait``), and from then to the batch done, its Redis work and its sends acknowledged
(``work``), over the records the agent took while the scans were being posted. With Faust's
batch window (:func:`streams.batching.take_window`, the agents' batching) the buffering moment
is not seen: ``stream`` then runs to the hand-over and holds the window, ``batch_wait`` is 0.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from bench import stack
from bench.latency import LIVE_FROM, scan_webhook, setup_parcels
from bench.orders import Parcel
from bench.stats import Progress, percentiles
from bench.wire import open_http
from streams.batching import SPANS_ENV
from wismo.settings import Settings
from wismo.topics import EVENTS, RAW, TIMELINE, TRACKING

#: (name, from topic, to topic); ``None`` is the moment the POST was sent
HOPS: tuple[tuple[str, str | None, str], ...] = (
    ("post_to_raw", None, RAW),
    ("normalise", RAW, TRACKING),
    ("link", TRACKING, EVENTS),
    # either way: through normalise and link, or (a linked number) normalise straight to events
    ("raw_to_events", RAW, EVENTS),
    ("timeline", EVENTS, TIMELINE),
    ("post_to_commit", None, TIMELINE),
)
SETTLE_S = 3.0  # after the last POST, before the topics are read back
#: the agents whose spans are summarised, in hop order
AGENTS = ("normalise", "link", "timeline")
#: (span, from, to): indexes into a span record (record timestamp, fetched, received,
#: buffered, taken, done)
SPANS: tuple[tuple[str, int, int], ...] = (
    ("fetch", 0, 1),
    ("handover", 1, 2),
    ("stream", 2, 3),
    ("batch_wait", 3, 4),
    ("work", 4, 5),
)


@dataclass(frozen=True)
class HopsOptions:
    orders: int = 50
    rate: float = 20.0
    events: int = 200
    batch_timeout_s: float | None = None
    direct_linked_scans: bool = True


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


def span_summary(lines: list[dict[str, Any]], since: float, until: float) -> dict[str, Any]:
    """Per agent, percentiles of each span over the records of batches taken in
    [``since``, ``until``], and the batch sizes."""
    summary: dict[str, Any] = {}
    for agent in AGENTS:
        rows: list[tuple[float | None, ...]] = []
        sizes: list[int] = []
        for line in lines:
            if line["agent"] != agent or not since <= line["taken"] <= until:
                continue
            sizes.append(len(line["records"]))
            rows += [(*r, line["taken"], line["done"]) for r in line["records"]]
        for span, start, end in SPANS:
            samples = [
                row[end] - row[start]  # type: ignore[operator]
                for row in rows
                if row[start] is not None and row[end] is not None
            ]
            summary.update(percentiles(samples, f"{agent}_{span}_"))
        sizes.sort()
        summary[f"{agent}_batches"] = len(sizes)
        summary[f"{agent}_batch_p50"] = sizes[len(sizes) // 2] if sizes else None
        summary[f"{agent}_batch_max"] = sizes[-1] if sizes else None
    return summary


def _read_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


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
    with stack.embedded(
        batch_timeout_s=options.batch_timeout_s, direct_linked_scans=options.direct_linked_scans
    ) as bench:
        spans_file = bench.scratch / "spans.jsonl"
        with stack.running(
            bench, ("normalise", "timeline", "api"), worker_env={SPANS_ENV: str(spans_file)}
        ):
            settings = bench.settings
            progress(f"folding {options.orders} orders through the worker")
            parcels = asyncio.run(setup_parcels(settings, options.orders))
            run_id = uuid.uuid4().hex[:8]
            progress(f"posting {options.events} scans at {options.rate:g}/s, one at a time")
            since = time.time()
            posted = asyncio.run(_post(settings, options, parcels, run_id))
            until = time.time()
            time.sleep(SETTLE_S)
            progress("reading the topics back")
            stamps = asyncio.run(_stamps(settings, run_id))
        spans = span_summary(_read_spans(spans_file), since, until)
    return {
        "scenario": "hops",
        "orders": options.orders,
        "target_rate": options.rate,
        "batch_timeout_s": settings.kafka.batch_timeout_s,
        "direct_linked_scans": settings.kafka.direct_linked_scans,
        **hop_summary(posted, stamps),
        **spans,
    }
