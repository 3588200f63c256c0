"""``wismo api`` as a real process: it serves until SIGTERM, then stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import redis

from cli.runtime.embedded import free_port
from tests.api.conftest import REDIS_URL

WISMO = str(Path(sys.executable).with_name("wismo"))


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read()


def test_wismo_api_serves_and_stops_on_sigterm(broker: str, prefix: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "WISMO_KAFKA__BOOTSTRAP": broker,
        "WISMO_KAFKA__TOPIC_PREFIX": prefix,
        "WISMO_KAFKA__PARTITIONS": "1",
        "WISMO_REDIS__URL": REDIS_URL,
        "WISMO_REDIS__KEY_PREFIX": prefix,
    }
    log = tmp_path / "api.log"
    with log.open("wb") as output:
        process = subprocess.Popen([WISMO, "api", "--port", str(port)], env=env, stderr=output)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/readyz")
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "wismo api did not start"
                time.sleep(0.1)
        assert status == 200
        assert orjson.loads(body)["checks"] == {"redis": "ok", "kafka": "ok"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_wismo_api_refuses_to_start_without_endpoints() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WISMO_")}
    result = subprocess.run([WISMO, "api"], env=env, capture_output=True, timeout=30)
    assert result.returncode == 2
    assert b"WISMO_KAFKA__BOOTSTRAP" in result.stderr
