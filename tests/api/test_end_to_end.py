"""The live path for real: a signed webhook POST → broker → worker subprocess (normalise,
timeline) → Redis → pub/sub → this API process → a websocket subscribed to the order."""

from __future__ import annotations

import asyncio
import statistics
import time
from copy import deepcopy
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from api.keys import STORE
from tests.api.conftest import EXAMPLE_ORDER, SAMPLES, SECRETS, aftership_signature
from tests.api.test_webhooks import oms_headers
from tests.streams.harness import WorkerProcess, embedded_stack
from wismo.settings import Settings

pytestmark = pytest.mark.slow

ORDER = "ORD-1001"
SCANS = 10


def scan_delivery(index: int) -> bytes:
    """An AfterShip delivery adding one new checkpoint to the example order's UPS parcel."""
    webhook: dict[str, Any] = orjson.loads(
        (SAMPLES / "aftership_out_for_delivery.json").read_bytes()
    )
    webhook["event_id"] = f"e2e-delivery-{index}"
    checkpoint = deepcopy(webhook["msg"]["checkpoints"][0])
    checkpoint["checkpoint_time"] = f"2026-03-07T10:{index:02d}:00+00:00"
    checkpoint["message"] = f"Scan {index}"
    webhook["msg"]["checkpoints"] = [checkpoint]
    return orjson.dumps(webhook)


def _shows(frame: dict[str, Any], scanned_at: str) -> bool:
    shipments = frame["view"]["shipments"]
    return any(c["at"] == scanned_at for s in shipments for c in s["checkpoints"])


async def eventually_ok(client: TestClient[Any, Any], within_s: float) -> dict[str, Any]:
    # wait on the store, then look up once: failed look-ups count against the order number
    store = client.server.app[STORE]
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await store.timeline(ORDER) is not None:
            response = await client.post(
                "/v1/lookup", json={"order_number": "1001", "postcode": "69002"}
            )
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body
        await asyncio.sleep(0.2)
    raise AssertionError("the order never reached the timeline store")


async def scenario(settings: Settings) -> list[float]:
    async with TestClient(TestServer(create_app(settings))) as client:
        order = b"[" + b",".join(EXAMPLE_ORDER.read_bytes().splitlines()[:17]) + b"]"
        placed = await client.post(
            "/v1/webhooks/oms", data=order, headers=oms_headers(order, "e2e-1")
        )
        assert placed.status == 202
        token = (await eventually_ok(client, within_s=90))["token"]
        latencies = []
        async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws:
            for index in range(SCANS):
                body = scan_delivery(index)
                signature = aftership_signature(body)
                headers = {"Content-Type": "application/json", "aftership-hmac-sha256": signature}
                started = time.perf_counter()
                response = await client.post("/v1/webhooks/aftership", data=body, headers=headers)
                assert response.status == 202
                scanned_at = f"2026-03-07T10:{index:02d}:00Z"
                while True:  # earlier frames may still be the order's own history landing
                    message = await ws.receive(timeout=30)
                    assert message.type is aiohttp.WSMsgType.TEXT
                    frame = orjson.loads(message.data)
                    if frame["type"] == "order" and _shows(frame, scanned_at):
                        break
                latencies.append(time.perf_counter() - started)
        return latencies


def test_signed_webhook_reaches_a_subscribed_websocket(tmp_path: Path) -> None:
    with embedded_stack(tmp_path, partitions=1) as stack:
        secrets = {name: (SecretStr(secret),) for name, secret in SECRETS.items()}
        settings = stack.model_copy(update={"webhook_secrets": secrets})
        worker = WorkerProcess(stack, "normalise,timeline", tmp_path).start()
        try:
            latencies = asyncio.run(scenario(settings))
        finally:
            worker.stop()
    ms = sorted(latency * 1000 for latency in latencies)
    print(
        f"\nwebhook POST -> websocket frame over {len(ms)} scans: "
        f"p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"
    )
    assert len(ms) == SCANS
