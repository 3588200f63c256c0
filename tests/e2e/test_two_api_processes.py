"""Two ``wismo api`` processes on one Redis, as two API pods behind a load balancer.

An order read through process B (which then keeps its customer view in its read cache) and
watched on a websocket through process A: a change committed by the timeline worker reaches A's
websocket through Redis pub/sub, and B's next read answers the new version, not its cached one.
Both processes are real subprocesses on free ports, against the embedded broker and the machine's
Redis; the change travels the whole way (webhook on B → Kafka → ``wismo run --roles
normalise,timeline`` → Redis → both processes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from cli.runtime.embedded import free_port, stop_process
from projections.redis_keys import RedisKeys
from tests.api.conftest import example_order
from tests.streams.harness import WISMO, WorkerProcess, embedded_stack, settings_env
from wismo.events import Event, dump_event, event_from_dict
from wismo.settings import Settings

pytestmark = pytest.mark.slow

ORDER = "ORD-1001"
LOOKUP = {"order_number": "1001", "postcode": "69002"}
WEBHOOK_KEY = b"two-api-processes-oms-key"
READY_S = 60.0


def api_settings(settings: Settings) -> Settings:
    secret = SecretStr("whsec_" + base64.b64encode(WEBHOOK_KEY).decode())
    api = settings.api.model_copy(
        update={
            "customer_token_secret": SecretStr(uuid.uuid4().hex * 2),
            "agent_jwt_secret": SecretStr(uuid.uuid4().hex * 2),
        }
    )
    return settings.model_copy(update={"api": api, "webhook_secrets": {"oms": (secret,)}})


@contextmanager
def api_process(settings: Settings, log: Path) -> Iterator[str]:
    """``wismo api`` on a free port; yields its base URL once ``/healthz`` answers."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [WISMO, "api", "--host", "127.0.0.1", "--port", str(port)],
            env=settings_env(settings),
            stdout=out,
            stderr=out,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        assert asyncio.run(_ready(base, process)), log.read_text()[-3000:]
        yield base
    finally:
        stop_process(process, f"api on {port}")


async def _ready(base: str, process: subprocess.Popen[bytes]) -> bool:
    """Whether the process answers ``/readyz`` with 200 (its Redis, Kafka and feed are up)."""
    deadline = time.monotonic() + READY_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                async with http.get(f"{base}/readyz") as answer:
                    if answer.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    return False


def signed(body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for the ``oms`` source."""
    delivery = f"msg_{uuid.uuid4().hex}"
    stamp = str(int(time.time()))
    mac = hmac.new(WEBHOOK_KEY, f"{delivery}.{stamp}.".encode() + body, hashlib.sha256)
    return {
        "webhook-id": delivery,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
        "content-type": "application/json",
    }


async def post_events(http: aiohttp.ClientSession, base: str, events: list[Event]) -> None:
    for event in events:
        body = dump_event(event)
        async with http.post(f"{base}/v1/webhooks/oms", data=body, headers=signed(body)) as answer:
            assert answer.status == 202, await answer.text()


async def read_order(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, Any] | None:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{base}/v1/orders/{ORDER}", headers=headers) as answer:
        if answer.status == 404:
            return None
        assert answer.status == 200, await answer.text()
        document: dict[str, Any] = await answer.json()
        return document


def late_scan() -> Event:
    return event_from_dict(
        {
            "event_id": "ups:two-api-late-scan",
            "source": "ups",
            "kind": "tracking.checkpoint",
            "order_id": ORDER,
            "tracking_number": "1Z999AA10123456784",
            "occurred_at": "2026-03-06T12:30:00Z",
            "payload": {"status": "in_transit", "raw_code": "I", "carrier": "ups"},
        }
    )


async def folded(settings: Settings, version: int) -> None:
    """Until the worker has committed the order at ``version`` (the look-up is rate limited:
    it is asked once the order is there)."""
    assert settings.redis.url is not None
    client = aioredis.Redis.from_url(settings.redis.url)
    state = RedisKeys(settings.redis.key_prefix).state(ORDER)
    deadline = time.monotonic() + 60
    try:
        while int(await client.hget(state, "version") or 0) < version:
            assert time.monotonic() < deadline, "the worker did not fold the order in time"
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


async def scenario(settings: Settings, api_a: str, api_b: str) -> None:
    events = example_order()
    async with aiohttp.ClientSession() as http:
        await post_events(http, api_b, events)
        await folded(settings, len(events))
        async with http.post(f"{api_b}/v1/lookup", json=LOOKUP) as answer:
            assert answer.status == 200, await answer.text()
            token = (await answer.json())["token"]
        # the order as process B shows it, read twice (the second from its cache, the first
        # having filled it while B's change feed was live)
        first = await read_order(http, api_b, token)
        assert first is not None
        assert first["version"] == len(events)
        assert await read_order(http, api_b, token) == first
        async with http.ws_connect(f"{api_a.replace('http', 'ws')}/v1/ws") as ws:
            await ws.send_json({"type": "subscribe", "order_id": ORDER, "token": token})
            subscribed = await _frame(ws)
            snapshot = await _frame(ws)
            assert subscribed["type"] == "subscribed", subscribed
            assert snapshot["type"] == "order"
            assert snapshot["version"] == first["version"]
            await post_events(http, api_b, [late_scan()])
            update = await _frame(ws, within_s=60)
            assert update["type"] == "order", update
            assert update["version"] == first["version"] + 1
            checkpoints = [
                c["at"] for s in update["view"]["shipments"] for c in s.get("checkpoints", [])
            ]
            assert any(at.startswith("2026-03-06T12:30") for at in checkpoints), update["view"]
        # B dropped its cached view when the change was announced: it answers the new version
        after = await read_order(http, api_b, token)
        assert after is not None
        assert after["version"] == first["version"] + 1


async def _frame(ws: aiohttp.ClientWebSocketResponse, within_s: float = 10.0) -> dict[str, Any]:
    message = await ws.receive(timeout=within_s)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    frame: dict[str, Any] = orjson.loads(message.data)
    return frame


def test_a_websocket_on_one_api_process_gets_changes_of_an_order_read_through_another(
    tmp_path: Path,
) -> None:
    with embedded_stack(tmp_path, partitions=1) as stack:
        settings = api_settings(stack)
        worker = WorkerProcess(settings, "normalise,timeline", tmp_path).start()
        try:
            with (
                api_process(settings, tmp_path / "api-a.log") as api_a,
                api_process(settings, tmp_path / "api-b.log") as api_b,
            ):
                asyncio.run(scenario(settings, api_a, api_b))
        finally:
            assert worker.stop() == 0, worker.log_tail()
