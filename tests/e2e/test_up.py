"""`wismo up` on a bare directory: embedded services, every role in one process, a simulated
history processed, and a clean stop on Ctrl-C (SIGINT) that takes the services down too."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from carriers.registry import names
from carriers.standard_webhooks import sign
from cli.runtime.embedded import free_port, read_services
from cli.runtime.webhook_guide import SIGNING
from tests.e2e.up_process import UpProcess
from tests.streams.harness import WISMO
from wismo.probes import kafka_metadata_ok
from wismo.settings import DEV_SECRET

CARRIER_SAMPLES = Path(__file__).parents[1] / "carriers"

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


def _hmac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def _signed(source: str, body: bytes, secret: str) -> dict[str, str]:
    """Headers a sender of ``source`` puts on ``body`` (written from each vendor's scheme)."""
    if source in ("oms", "wms", "salesforce_om"):
        msg_id, timestamp = f"msg_{uuid.uuid4().hex[:12]}", int(time.time())
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        }
    key = unicodedata.normalize("NFKD", secret)
    return {
        "ups": {"credential": secret},
        "dhl": {"dhl-push-token": secret},
        "fedex": {"fdx-signature": _hmac(secret, body).hex()},
        "usps": {"x-hmac": base64.b64encode(_hmac(secret, body)).decode()},
        "aftership": {"aftership-hmac-sha256": base64.b64encode(_hmac(secret, body)).decode()},
        "easypost": {"x-hmac-signature": "hmac-sha256-hex=" + _hmac(key, body).hex()},
        "shopify": {"x-shopify-hmac-sha256": base64.b64encode(_hmac(secret, body)).decode()},
    }[source]


#: a recorded payload of each source (with its recorded transport headers, where it has some)
SAMPLES = {
    "ups": "ups/alert_out_for_delivery.json",
    "fedex": "fedex/delivered.json",
    "usps": "usps/delivered_front_door.json",
    "dhl": "dhl/express_delivered.json",
    "aftership": "aftership/delivered.json",
    "easypost": "easypost/delivered.json",
    "shopify": "shopify/fulfillment_create_two_parcels.json",
    "salesforce_om": "salesforce_om/order_payment_summary_captured.json",
    "oms": "oms/order_placed.json",
    "wms": "wms/fulfilment_created.json",
}


def test_every_registered_source_accepts_a_dev_signed_webhook_and_is_listed(
    tmp_path: Path,
) -> None:
    assert sorted(SAMPLES) == sorted(names())
    assert sorted(SIGNING) == sorted(names())
    up = UpProcess(tmp_path / "run").start()
    statuses: dict[str, int] = {}
    try:
        up.wait_ready()
        for source, sample in SAMPLES.items():
            path = CARRIER_SAMPLES / sample
            body = path.read_bytes()
            header_file = path.with_name(path.stem + ".headers.json")
            headers = {"Content-Type": "application/json"}
            if header_file.exists():
                recorded = json.loads(header_file.read_text())
                headers |= {k: v for k, v in recorded.items() if "signature" not in k.lower()}
            headers |= _signed(source, body, DEV_SECRET)
            request = urllib.request.Request(
                f"{up.base}/v1/webhooks/{source}", data=body, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses[source] = response.status
            except urllib.error.HTTPError as error:
                statuses[source] = error.code
    finally:
        up.signal(signal.SIGINT)
        up.wait(60)
        up.cleanup()
    assert statuses == dict.fromkeys(SAMPLES, 202), up.log_tail()
    terminal = up.log_path.read_text()
    (line,) = [line for line in terminal.splitlines() if "/v1/webhooks/<source>" in line]
    assert all(source in line for source in names()), line
    records = _log_records(up.directory / ".wismo" / "logs" / "wismo.log")
    (guide,) = [record["guide"] for record in records if record["msg"] == "webhook signing"]
    for source in names():
        assert any(f"{up.base}/v1/webhooks/{source}" in text for text in guide)
        assert any(SIGNING[source] in text for text in guide)


def _log_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a wismo log file (every line one object)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


REPOSITORY = Path(__file__).parents[2]


def _session_processes(session: int) -> list[str]:
    found = subprocess.run(["ps", "-o", "pid=,args=", "-s", str(session)], capture_output=True)
    lines = [line.strip() for line in found.stdout.decode().splitlines()]
    return [line for line in lines if line and not line.endswith("<defunct>")]


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_make_up_piped_into_tee_stops_on_a_signal_to_its_process_group(
    tmp_path: Path, number: signal.Signals
) -> None:
    """Ctrl-C in a terminal signals the whole pipeline (make, wismo, tee); SIGTERM and SIGHUP
    sent the same way must stop it too, leaving no process behind."""
    assert shutil.which("make"), "make is needed (the CI script installs it)"
    venv = Path(sys.executable).parent.parent
    make = (
        f"make -f {REPOSITORY / 'Makefile'} -o {venv / '.installed'} VENV={venv} up 2>&1 "
        f"| tee {tmp_path / 'make-up.log'} >/dev/null"
    )
    up = UpProcess(tmp_path)
    pipeline = subprocess.Popen(
        ["bash", "-c", make], cwd=tmp_path, env=up.env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{up.base}/readyz", timeout=2):
                    break
            except OSError:
                assert pipeline.poll() is None, (tmp_path / "make-up.log").read_text()[-3000:]
                time.sleep(0.3)
        port = int(read_services(tmp_path / ".wismo")["kafka"].rsplit(":", 1)[1])
        time.sleep(1)  # some demo traffic in flight
        os.killpg(pipeline.pid, number)
        deadline = time.monotonic() + 60
        while _session_processes(pipeline.pid) and time.monotonic() < deadline:
            pipeline.poll()
            time.sleep(0.5)
        left = _session_processes(pipeline.pid)
        assert not left, f"still running 60 s after {number.name}: {left}"
        assert not kafka_metadata_ok("127.0.0.1", port), "the broker outlived wismo up"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pipeline.pid, signal.SIGKILL)
        pipeline.wait(10)
        up.cleanup()


def _persistent_keys(client: redis.Redis, prefix: str) -> set[bytes]:
    """Keys under ``prefix`` that do not expire within the hour (rate-limit buckets and pending
    delivery claims do; finished orders and delivery ids are kept for days)."""
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    return {key for key in keys if client.ttl(key) == -1 or client.ttl(key) > 3600}


#: keys of work queues, which Redis drops once they are empty (projections/notify/ledger.py)
_NOTIFY_QUEUES = (b":records", b":due", b":hold", b":pending", b":pending_first", b":failing")


def _a_queue(key: bytes) -> bool:
    return b":park:" in key or (b"{notify}:" in key and key.endswith(_NOTIFY_QUEUES))


def test_private_redis_keeps_every_order_exception_and_index_across_a_restart(
    tmp_path: Path,
) -> None:
    """With the machine's Redis skipped (``--private-redis``), a stop and a start of wismo up
    in the same directory keep every key: orders, exceptions, links, indexes."""
    up = UpProcess(
        tmp_path / "run", arguments=("--demo-orders", "6", "--demo-rate", "40", "--private-redis")
    )
    prefix = up.env["WISMO_REDIS__KEY_PREFIX"]
    try:
        up.start()
        up.wait_ready()
        assert up.redis_url() != "redis://127.0.0.1:6379/0", "the private Redis was not used"
        client = up.redis()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(client.scan_iter(f"{prefix}:*:state"))) < 6:
            time.sleep(0.5)
        before = _persistent_keys(client, prefix)
        orders = {key for key in before if key.endswith(b":state")}
        assert len(orders) >= 6
        client.close()
        up.signal(signal.SIGINT)
        assert up.wait(90) == 0, up.log_tail()
        up.arguments = ("--demo-orders", "0", "--private-redis")
        up.start()
        up.wait_ready()
        client = up.redis()
        after = _persistent_keys(client, prefix)
        client.close()
        # work queues empty as their work is done (the drain may finish some): parked scans
        # leave when their shipment arrives, the notify role's outboxes once they are sent
        assert not {key for key in before - after if not _a_queue(key)}, sorted(before - after)
        assert {key for key in after if key.endswith(b":state")} >= orders
    finally:
        if up.process is not None and up.process.poll() is None:
            up.signal(signal.SIGINT)
            up.wait(90)
        up.cleanup()
