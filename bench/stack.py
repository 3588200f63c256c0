"""The stack a benchmark runs on: embedded services, and the API and workers as real processes.

Each server under test runs in a process of its own (``wismo api``, ``wismo run --roles …``, the
bare baseline), so the load generator in the benchmark process never shares an event loop or a
GIL with it. Everything listens on 127.0.0.1; keys and topics carry a prefix unique to the run
and the run's Redis keys are deleted at the end.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from cli.runtime.embedded import EmbeddedServices, delete_prefix, free_port, stop_process
from wismo.settings import ApiSettings, KafkaSettings, RedisSettings, Settings, to_environment
from wismo.topics import ensure_topics

READY_TIMEOUT_S = 60.0
#: webhook rate limits are for misbehaving senders, not for a benchmark's steady load
UNLIMITED_WEBHOOKS = 1_000_000.0
#: the websocket benches' connections all come from one address
ONE_CLIENT_WEBSOCKETS = 100_000


@dataclass(frozen=True)
class Stack:
    settings: Settings
    scratch: Path


def bench_settings(
    data_dir: Path,
    *,
    partitions: int = 4,
    batch_timeout_s: float | None = None,
    direct_linked_scans: bool = True,
) -> Settings:
    unique = uuid.uuid4().hex[:8]
    secret = SecretStr("whsec_" + base64.b64encode(uuid.uuid4().bytes).decode())
    return Settings(
        data_dir=data_dir,
        log_level="WARNING",
        kafka=KafkaSettings(
            topic_prefix=f"bench{unique}",
            partitions=partitions,
            session_timeout_s=6.0,
            rebalance_timeout_s=3.0,
            heartbeat_interval_s=0.5,
            direct_linked_scans=direct_linked_scans,
            **({} if batch_timeout_s is None else {"batch_timeout_s": batch_timeout_s}),
        ),
        redis=RedisSettings(key_prefix=f"wismo-bench-{unique}"),
        api=ApiSettings(
            port=free_port(),
            customer_token_secret=SecretStr(uuid.uuid4().hex * 2),
            agent_jwt_secret=SecretStr(uuid.uuid4().hex * 2),
            webhook_rate_per_s=UNLIMITED_WEBHOOKS,
            webhook_burst=int(UNLIMITED_WEBHOOKS),
            # every benchmark client connects from 127.0.0.1: one client to the API
            ws_max_per_client=ONE_CLIENT_WEBSOCKETS,
        ),
        webhook_secrets={"oms": (secret,)},
    )


@contextmanager
def embedded(
    partitions: int = 4, batch_timeout_s: float | None = None, direct_linked_scans: bool = True
) -> Iterator[Stack]:
    """Services for one run; ``batch_timeout_s`` overrides the workers' batch wait, and
    ``direct_linked_scans`` off sends every scan through the link agent."""
    with tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch:
        requested = bench_settings(
            Path(scratch),
            partitions=partitions,
            batch_timeout_s=batch_timeout_s,
            direct_linked_scans=direct_linked_scans,
        )
        with EmbeddedServices(requested) as services:
            settings = services.settings
            asyncio.run(ensure_topics(settings))
            try:
                yield Stack(settings, Path(scratch))
            finally:
                delete_keys(settings)


def delete_keys(settings: Settings) -> None:
    assert settings.redis.url is not None
    delete_prefix(settings.redis.url, settings.redis.key_prefix)


def process_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``wismo`` process see ``settings``."""
    assert settings.kafka.bootstrap is not None
    assert settings.redis.url is not None
    return {**os.environ, **to_environment(settings), "WISMO_API__HOST": "127.0.0.1"}


@dataclass
class Server:
    """A process under test, its output in a log file under the scratch directory."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory now (VmRSS), the figure the kernel charges the process."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for {self.name}")

    def failure(self) -> str:
        return f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"


def start(
    stack: Stack, name: str, command: Sequence[str], env: Mapping[str, str] | None = None
) -> Server:
    """Start ``python command`` on the stack's settings (plus ``env``), its output logged."""
    log = stack.scratch / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *command],
            env={**process_env(stack.settings), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    return Server(name, process, log)


def wait_http(server: Server, port: int, path: str = "/healthz") -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(server.failure())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer on {port} in {READY_TIMEOUT_S:.0f}s")


@contextmanager
def running(
    stack: Stack, roles: Sequence[str] = ("api",), worker_env: Mapping[str, str] | None = None
) -> Iterator[dict[str, Server]]:
    """The API (``wismo api``) and, if asked, one worker with the other roles (its environment
    plus ``worker_env``)."""
    with ExitStack() as stop:
        servers: dict[str, Server] = {}
        workers = [role for role in roles if role != "api"]
        if workers:
            command = ["-m", "cli.main", "run", "--roles", ",".join(workers)]
            command += ["--web-port", str(free_port())]
            worker = start(stack, "worker", command, worker_env)
            stop.callback(stop_process, worker.process, "worker")
            servers["worker"] = worker
        if "api" in roles:
            api = start(stack, "api", ["-m", "cli.main", "api"])
            stop.callback(stop_process, api.process, "api")
            wait_http(api, stack.settings.api.port)
            servers["api"] = api
        yield servers


@contextmanager
def baseline(stack: Stack) -> Iterator[tuple[Server, int]]:
    """The bare aiohttp server answering a constant (:mod:`bench.baseline`)."""
    port = free_port()
    server = start(stack, "baseline", ["-m", "bench.baseline", "--port", str(port)])
    try:
        wait_http(server, port, "/constant")
        yield server, port
    finally:
        stop_process(server.process, "baseline")
