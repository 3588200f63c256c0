"""Running the real system in tests: an embedded stack, worker subprocesses, convergence checks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cli.runtime.embedded import EmbeddedServices, delete_prefix, free_port
from cli.runtime.settle import group_lag  # noqa: F401 - the harness offers it to the tests
from projections.serialize import timeline_to_json
from projections.timeline import fold
from wismo.events import Event
from wismo.settings import KafkaSettings, RedisSettings, Settings, to_environment
from wismo.topics import ensure_topics

WISMO = str(Path(sys.executable).with_name("wismo"))


def stack_settings(data_dir: Path, *, partitions: int = 4) -> Settings:
    """Unique topic and key prefixes, short group timeouts, a private chDB path."""
    unique = uuid.uuid4().hex[:8]
    return Settings(
        data_dir=data_dir,
        kafka=KafkaSettings(
            topic_prefix=f"t{unique}",
            partitions=partitions,
            session_timeout_s=6.0,
            rebalance_timeout_s=3.0,
            heartbeat_interval_s=0.5,
            batch_size=500,
        ),
        redis=RedisSettings(key_prefix=f"wismo-test-{unique}"),
    )


@contextmanager
def embedded_stack(data_dir: Path, *, partitions: int = 4) -> Iterator[Settings]:
    """Broker, Redis and chDB path for one test; the test's Redis keys are deleted afterwards."""
    with EmbeddedServices(stack_settings(data_dir, partitions=partitions)) as services:
        settings = services.settings
        asyncio.run(ensure_topics(settings))
        try:
            yield settings
        finally:
            _delete_keys(settings)


def _delete_keys(settings: Settings) -> None:
    assert settings.redis.url is not None
    delete_prefix(settings.redis.url, settings.redis.key_prefix)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``wismo`` subprocess see ``settings``."""
    assert settings.kafka.bootstrap is not None
    assert settings.redis.url is not None
    return {
        **os.environ,
        **to_environment(settings),
        "WISMO_CLICKHOUSE__BATCH_INTERVAL_S": "0.5",  # tests read ClickHouse soon after
    }


@dataclass
class WorkerProcess:
    """``wismo run --roles …`` as a real subprocess, its JSON logs in a file."""

    settings: Settings
    roles: str
    log_dir: Path
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.roles.replace(',', '+')}-{self.web_port}.log"

    def start(self) -> WorkerProcess:
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [WISMO, "run", "--roles", self.roles, "--web-port", str(self.web_port)],
                env=settings_env(self.settings),
                stdout=log,
                stderr=log,
            )
        return self

    def kill(self) -> None:
        """kill -9: no shutdown, no final commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    *,
    every_s: float = 0.5,
    workers: tuple[WorkerProcess, ...] = (),
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        for worker in workers:
            if worker.process is not None and not worker.alive():
                raise AssertionError(f"worker {worker.roles} died:\n{worker.log_tail()}")
        time.sleep(every_s)
    return check()


def expected_timelines(by_order: Mapping[str, list[Event]]) -> dict[str, bytes]:
    """What ``wismo fold`` makes of each order's valid events."""
    return {
        order_id: timeline_to_json(fold(events, order_id)) for order_id, events in by_order.items()
    }


async def _redis_timelines(settings: Settings, order_ids: list[str]) -> dict[str, bytes | None]:
    from projections.connections import redis_client
    from projections.redis_store import RedisTimelineStore

    client = await redis_client(settings)
    store = RedisTimelineStore(client, settings.redis.key_prefix)
    try:
        return {order_id: await store.timeline(order_id) for order_id in order_ids}
    finally:
        await client.aclose()


def timeline_mismatches(settings: Settings, expected: Mapping[str, bytes]) -> list[str]:
    """Orders whose Redis timeline is not (yet) the fold of their valid events."""
    actual = asyncio.run(_redis_timelines(settings, sorted(expected)))
    return [order_id for order_id, document in expected.items() if actual[order_id] != document]


def timelines_present(settings: Settings, order_ids: list[str]) -> int:
    """How many of the orders have a timeline in Redis yet."""
    actual = asyncio.run(_redis_timelines(settings, order_ids))
    return sum(document is not None for document in actual.values())


_READ_EVENT_COPIES = """
import sys, orjson
from projections.clickhouse_schema import migrate
from projections.connections import clickhouse_client
from wismo.settings import load_settings

settings = load_settings()
client = clickhouse_client(settings)
database = settings.clickhouse.database
migrate(client, database)
rows = client.query(
    f"SELECT event_id, count(), any(order_id) FROM {database}.events FINAL GROUP BY event_id"
).result_rows
client.close()
sys.stdout.buffer.write(orjson.dumps([list(row) for row in rows]))
"""


def clickhouse_event_copies(settings: Settings) -> dict[str, tuple[int, str]]:
    """event id → (rows after dedup, order id) in ClickHouse.

    Read in a subprocess: chDB admits one engine path per process, and the test process may
    already hold another one (the store tests' session engine).
    """
    import orjson

    result = subprocess.run(
        [sys.executable, "-c", _READ_EVENT_COPIES],
        env=settings_env(settings),
        capture_output=True,
        check=True,
        timeout=300,
    )
    rows = orjson.loads(result.stdout)
    return {event_id: (count, order_id) for event_id, count, order_id in rows}
