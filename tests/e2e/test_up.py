"""`wismo up` on a bare directory: embedded services, every role in one process, a simulated
history processed, and a clean stop on Ctrl-C (SIGINT) that takes the services down too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis

from cli.runtime.embedded import free_port
from tests.streams.harness import WISMO
from wismo.probes import kafka_metadata_ok

pytestmark = pytest.mark.slow


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_wismo_up_processes_a_simulated_history_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    prefix = f"wismo-test-{uuid.uuid4().hex[:8]}"
    web_port = free_port()
    env = {
        **os.environ,
        "WISMO_REDIS__KEY_PREFIX": prefix,
        "WISMO_KAFKA__TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "WISMO_KAFKA__SESSION_TIMEOUT_S": "6",
        "WISMO_KAFKA__REBALANCE_TIMEOUT_S": "3",
        "WISMO_API__PORT": str(free_port()),
    }
    command = [WISMO, "up", "--web-port", str(web_port), "--simulate-orders", "30"]
    log = tmp_path / "up.log"
    with log.open("w") as stderr_file:
        up = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=stderr_file)
    timeline = 'wismo_events_in_total{agent="timeline",kind="order.placed"}'
    warehouse = 'wismo_events_in_total{agent="warehouse",kind="order.placed"}'
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (
            _metric(web_port, timeline) < 30 or _metric(web_port, warehouse) < 30
        ):
            assert up.poll() is None, "wismo up exited early"
            time.sleep(1)
        assert _metric(web_port, timeline) >= 30
        assert _metric(web_port, warehouse) >= 30
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
        client = redis.Redis()
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    stderr = log.read_text()
    assert up.returncode == 0, stderr[-2000:]
    match = re.search(r"kafka \(tansu\) at 127\.0\.0\.1:(\d+)", stderr)
    assert match, stderr[:2000]
    assert not kafka_metadata_ok("127.0.0.1", int(match.group(1)))
    assert (tmp_path / ".wismo" / "chdb").is_dir()
