"""``wismo up`` as a real subprocess in a directory of its own, for the end-to-end and fault
tests: a unique topic and key prefix, a free API port, its stderr in a log file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from cli.runtime.embedded import delete_prefix, free_port, read_services
from tests.streams.harness import WISMO


def up_environment(api_port: int, **extra: str) -> dict[str, str]:
    unique = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "WISMO_REDIS__KEY_PREFIX": f"wismo-test-{unique}",
        "WISMO_KAFKA__TOPIC_PREFIX": f"t{unique}",
        "WISMO_KAFKA__SESSION_TIMEOUT_S": "6",
        "WISMO_KAFKA__REBALANCE_TIMEOUT_S": "3",
        "WISMO_KAFKA__HEARTBEAT_INTERVAL_S": "0.5",
        "WISMO_CLICKHOUSE__BATCH_INTERVAL_S": "0.5",
        "WISMO_API__PORT": str(api_port),
        **extra,
    }


@dataclass
class UpProcess:
    """One ``wismo up`` in ``directory``; :meth:`start` again after a stop or a kill restarts
    it in the same directory with the same settings."""

    directory: Path
    arguments: tuple[str, ...] = ("--demo-orders", "0")
    api_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.env = {**up_environment(self.api_port), **self.env}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"up-{self.starts}.log"

    def start(self, *extra: str) -> UpProcess:
        self.starts += 1
        command = [WISMO, "up", "--web-port", str(self.web_port), *self.arguments, *extra]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.directory, env=self.env, stdout=log, stderr=log
            )
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.poll() is None, f"wismo up exited early:\n{self.log_tail()}"
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"wismo up not ready after {timeout_s:.0f}s:\n{self.log_tail()}")

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout_s: float = 90.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def redis_url(self) -> str:
        return read_services(self.directory / ".wismo").get("redis", "redis://127.0.0.1:6379/0")

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url())

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if "redis" not in read_services(self.directory / ".wismo"):
            delete_prefix(self.redis_url(), self.env["WISMO_REDIS__KEY_PREFIX"])
