"""Scale-out of the timeline role across processes: 1, 2 and 4 workers in one consumer group.

``wismo bench scale`` starts the embedded broker and a private Redis, generates one history
(:mod:`bench.history`, the ``FLOW`` mix: canonical events keyed by order, scans linked, each
order's events in time order with a share late, as :func:`bench.throughput.arrival_order` lays
them out) and, for each configuration, puts the same encoded events on a fresh events topic of
``partitions`` partitions (a fresh topic prefix, hence a fresh consumer group and fresh Redis
keys), then starts N real ``wismo run --roles timeline`` processes at once. They share the
topic's partitions in one consumer group, as production pods do.

The members do not join at the same instant: the first one consumes alone until the group's
last rebalance. The measured window therefore opens at the first poll where *every* worker has
processed events (the group is complete; no member joins after that) and closes at the last
increase of the processed count once the group's committed offsets reach the end of the topic.
Events per second are the events processed in the window over its length; CPU per event is the
workers' user + system CPU time (``/proc``, every thread) over the same window,
and beside it the broker's and the Redis server's, so the whole machine's cost per event is
visible. Counts come from each worker's own ``/metrics`` (``wismo_events_in_total`` of the
timeline agent), polled every :data:`POLL_S`.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stack import Server, Stack, bench_settings, start
from bench.throughput import arrival_order
from cli.runtime.embedded import EmbeddedServices, delete_prefix, free_port
from wismo.settings import Settings
from wismo.topics import EVENTS, ensure_topics

#: how often the workers' counters and CPU times are read (s)
POLL_S = 0.2
#: how often, once every event was counted, the group's committed offsets are checked (s)
LAG_EVERY_S = 1.0
COUNTER = 'wismo_events_in_total{agent="timeline"'


@dataclass(frozen=True)
class ScaleOptions:
    orders: int = 5_000
    partitions: int = 8
    workers: tuple[int, ...] = (1, 2, 4)
    seed: int = 1
    arrival: str = "timely"
    timeout_s: float = 600.0


@dataclass
class Sample:
    at: float
    counts: list[float]
    cpu: list[float]
    broker_cpu: float
    redis_cpu: float
    machine_cpu: float

    @property
    def total(self) -> float:
        return sum(self.counts)


@dataclass
class Outcome:
    workers: int
    events_in_window: float
    seconds: float
    before_window: float
    counted: float
    worker_cpu_s: float
    broker_cpu_s: float
    redis_cpu_s: float
    machine_cpu_s: float
    per_worker: list[float] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.events_in_window / self.seconds if self.seconds else 0.0

    def row(self) -> dict[str, Any]:
        per_event = self.events_in_window or 1.0
        return {
            "events_per_s": round(self.events_per_s, 1),
            "window_s": round(self.seconds, 2),
            "events_in_window": int(self.events_in_window),
            "events_before_window": int(self.before_window),
            "events_counted": int(self.counted),
            "worker_cpu_us_per_event": round(self.worker_cpu_s / per_event * 1e6, 1),
            "broker_cpu_us_per_event": round(self.broker_cpu_s / per_event * 1e6, 1),
            "redis_cpu_us_per_event": round(self.redis_cpu_s / per_event * 1e6, 1),
            "worker_cores_busy": round(self.worker_cpu_s / self.seconds, 2) if self.seconds else 0,
            "all_cores_busy": round(
                (self.worker_cpu_s + self.broker_cpu_s + self.redis_cpu_s) / self.seconds, 2
            )
            if self.seconds
            else 0,
            # every process on the machine, ours and others': what was left for the run
            "machine_cores_busy": round(self.machine_cpu_s / self.seconds, 2)
            if self.seconds
            else 0,
            "per_worker_events": [int(n) for n in self.per_worker],
        }


def encoded_events(orders: int, seed: int, arrival: str) -> list[tuple[bytes, bytes]]:
    """(key, value) of every canonical event of a generated history, in arrival order."""
    from bench.history import generate
    from bench.orders import FLOW
    from streams.routing import linked
    from wismo.events import dump_event

    history = generate(orders, seed=seed, duplicate_share=0, malformed_share=0, mix=FLOW)
    return [
        (
            order_id.encode(),
            dump_event(linked(event, order_id) if event.order_id is None else event),
        )
        for order_id, event in arrival_order(history.by_order(), seed, arrival)
    ]


async def produce(settings: Settings, messages: Sequence[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap, linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        topic = settings.topic(EVENTS)
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed_lag(settings: Settings, group: str) -> int:
    """Events of the topic not yet committed by ``group``."""
    from cli.runtime.settle import group_lag

    return await group_lag(settings, group, (EVENTS,))


def processed(port: int) -> float:
    """The timeline agent's events so far, from the worker's ``/metrics`` (0 until it answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(COUNTER)
    )


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process, all its threads (``/proc/PID/stat``); 0 if gone."""
    if pid is None:
        return 0.0
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent on anything but idling, since boot."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    return (sum(ticks[:8]) - idle - iowait) / TICKS_PER_S


def _service(name: str) -> int | None:
    """The pid of the broker or Redis this run started (a child of this process)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        parent = int(text.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and name in command:
            return int(entry.name)
    return None


def measure(
    settings: Settings,
    scratch: Path,
    count: int,
    expected: int,
    timeout_s: float,
    progress: Callable[[str], None],
) -> Outcome:
    """``count`` timeline workers through the (already filled) topic of ``settings``."""
    from cli.runtime.roles import group_id

    stack = Stack(settings, scratch)
    broker, redis = _service("tansu"), _service("redis-server")
    ports = [free_port() for _ in range(count)]
    servers: list[Server] = []
    try:
        for index, port in enumerate(ports):
            command = ["-m", "cli.main", "run", "--roles", "timeline", "--web-port", str(port)]
            servers.append(start(stack, f"timeline-{count}-{index}", command))

        def sample() -> Sample:
            for server in servers:
                if server.process.poll() is not None:
                    raise RuntimeError(server.failure())
            return Sample(
                time.perf_counter(),
                [processed(port) for port in ports],
                [cpu_seconds(server.pid) for server in servers],
                cpu_seconds(broker),
                cpu_seconds(redis),
                machine_busy_seconds(),
            )

        deadline = time.monotonic() + timeout_s
        first = sample()
        while not all(first.counts):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} workers: not all of them got events in time")
            time.sleep(POLL_S)
            first = sample()
        last, latest = first, first
        checked = 0.0
        group = group_id(settings, ("timeline",))
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} workers: {latest.total} of {expected} in time")
            time.sleep(POLL_S)
            latest = sample()
            if latest.total > last.total:
                last = latest
            if last.total >= expected and time.monotonic() - checked >= LAG_EVERY_S:
                checked = time.monotonic()
                if asyncio.run(committed_lag(settings, group)) == 0:
                    break
        progress(
            f"{count} worker(s): {last.total - first.total:.0f} events in"
            f" {last.at - first.at:.2f}s after the group was complete"
        )
        return Outcome(
            workers=count,
            events_in_window=last.total - first.total,
            seconds=last.at - first.at,
            before_window=first.total,
            counted=last.total,
            worker_cpu_s=sum(last.cpu) - sum(first.cpu),
            broker_cpu_s=last.broker_cpu - first.broker_cpu,
            redis_cpu_s=last.redis_cpu - first.redis_cpu,
            machine_cpu_s=last.machine_cpu - first.machine_cpu,
            per_worker=last.counts,
        )
    finally:
        # the measurement is taken and the run's keys and topics are thrown away: no need to
        # wait for an orderly shutdown of each worker
        for server in servers:
            server.process.kill()
        for server in servers:
            server.process.wait()


@contextmanager
def services(scratch: Path, partitions: int) -> Iterator[Settings]:
    """The broker and a private Redis (its CPU is then the run's alone)."""
    requested = bench_settings(scratch, partitions=partitions)
    with EmbeddedServices(requested, use_local_redis=False) as started:
        yield started.settings


def fresh(settings: Settings) -> Settings:
    """The same services, a new topic prefix (so a new consumer group) and a new key prefix."""
    unique = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update={"topic_prefix": f"scale{unique}"}),
            "redis": settings.redis.model_copy(update={"key_prefix": f"wismo-scale-{unique}"}),
        }
    )


def run(options: ScaleOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    messages = encoded_events(options.orders, options.seed, options.arrival)
    progress(f"{len(messages)} canonical events of {options.orders} orders")
    outcomes: list[Outcome] = []
    with (
        tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch,
        services(Path(scratch), options.partitions) as base,
    ):
        for count in options.workers:
            settings = fresh(base)
            asyncio.run(ensure_topics(settings))
            asyncio.run(produce(settings, messages))
            try:
                outcomes.append(
                    measure(
                        settings, Path(scratch), count, len(messages), options.timeout_s, progress
                    )
                )
            finally:
                assert settings.redis.url is not None
                delete_prefix(settings.redis.url, settings.redis.key_prefix)
    return summarise(options, len(messages), outcomes)


def summarise(options: ScaleOptions, events: int, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "scenario": "scale",
        "events": events,
        "orders": options.orders,
        "partitions": options.partitions,
        "arrival": options.arrival,
    }
    one = next((o for o in outcomes if o.workers == 1), None)
    runs: dict[int, int] = {}
    for outcome in outcomes:
        row = outcome.row()
        if one is not None and one.events_per_s:
            row["to_one_worker"] = round(outcome.events_per_s / one.events_per_s, 3)
        # a configuration run again (``--workers 1,2,4,1``) gets its own keys
        runs[outcome.workers] = runs.get(outcome.workers, 0) + 1
        again = runs[outcome.workers]
        name = f"workers_{outcome.workers}" + (f"_run{again}" if again > 1 else "")
        for key, value in row.items():
            summary[f"{name}_{key}"] = value
    summary["cpus_available"] = len(os.sched_getaffinity(0))
    return summary
