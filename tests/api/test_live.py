"""Websockets: live order views and the agent feed over real Redis pub/sub."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.keys import HUB, METRICS
from projections.redis_store import RedisKeys, RedisTimelineStore
from tests.api.conftest import Client, agent_token, example_order
from wismo.events import event_from_dict
from wismo.settings import Settings

ORDER = "ORD-1001"


async def customer_token(client: Client) -> str:
    response = await client.post("/v1/lookup", json={"order_number": "1001", "postcode": "69002"})
    token: str = (await response.json())["token"]
    return token


async def frames(
    ws: aiohttp.ClientWebSocketResponse, count: int, within_s: float = 10.0
) -> list[dict[str, Any]]:
    received = []
    for _ in range(count):
        message = await ws.receive(timeout=within_s)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        received.append(orjson.loads(message.data))
    return received


async def until(
    ws: aiohttp.ClientWebSocketResponse, wanted: Any, within_s: float = 10.0
) -> dict[str, Any]:
    """The first frame satisfying ``wanted`` (earlier frames are skipped)."""
    deadline = time.monotonic() + within_s
    while True:
        message = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = orjson.loads(message.data)
        if wanted(frame):
            return frame


def late_scan(minute: int) -> Any:
    return event_from_dict(
        {
            "event_id": f"ups:late-scan-{minute}",
            "source": "ups",
            "kind": "tracking.checkpoint",
            "order_id": ORDER,
            "tracking_number": "1Z999AA10123456784",
            "occurred_at": f"2026-03-06T12:{minute:02d}:00Z",
            "payload": {"status": "in_transit", "raw_code": "I", "carrier": "ups"},
        }
    )


async def test_order_subscriber_gets_the_current_view_then_every_change(
    client: Client, store: RedisTimelineStore
) -> None:
    events = example_order()
    await store.apply(events)
    token = await customer_token(client)
    async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws:
        subscribed, current = await frames(ws, 2)
        assert subscribed == {"type": "subscribed", "order_id": ORDER, "version": len(events)}
        assert current["type"] == "order"
        assert current["version"] == len(events)
        assert current["view"]["status"] == "delivered"
        started = time.perf_counter()
        await store.apply([late_scan(30)])
        update = await frames(ws, 1)
        latency_ms = (time.perf_counter() - started) * 1000
        assert update[0]["version"] == len(events) + 1
        print(f"store apply -> websocket frame: {latency_ms:.1f} ms")
    metrics = client.server.app[METRICS]
    assert metrics.push_latency.collect()[0].samples  # the push was measured


async def test_resume_from_the_last_seen_version_skips_the_snapshot(
    client: Client, store: RedisTimelineStore
) -> None:
    events = example_order()
    await store.apply(events)
    token = await customer_token(client)
    async with client.ws_connect("/v1/ws") as ws:
        await ws.send_json(
            {"type": "subscribe", "order_id": ORDER, "token": token, "version": len(events)}
        )
        (subscribed,) = await frames(ws, 1)
        assert subscribed["type"] == "subscribed"
        await store.apply([late_scan(31)])
        (update,) = await frames(ws, 1)  # no snapshot of the version the client had
        assert (update["type"], update["version"]) == ("order", len(events) + 1)
        # an older version gets the current snapshot at once
        await ws.send_json({"type": "unsubscribe", "order_id": ORDER})
        await ws.send_json({"type": "subscribe", "order_id": ORDER, "token": token, "version": 3})
        _, snapshot = await frames(ws, 2)
        assert snapshot["version"] == len(events) + 1


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/ws/orders/ORD-5?token={token}", 4403),
        ("/v1/ws/orders/ORD-1001", 4401),
        ("/v1/ws/orders/ORD-1001?token=garbage", 4401),
        ("/v1/ws/agent?token={token}", 4401),
        ("/v1/ws/agent", 4401),
    ],
)
async def test_subscriptions_without_the_right_token_are_closed(
    client: Client, store: RedisTimelineStore, path: str, code: int
) -> None:
    await store.apply(example_order())
    token = await customer_token(client)
    async with client.ws_connect(path.format(token=token)) as ws:
        (error,) = await frames(ws, 1)
        assert error["type"] == "error"
        assert error["reason"]
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == code


async def test_bad_messages_get_an_error_frame_and_the_socket_stays(client: Client) -> None:
    async with client.ws_connect("/v1/ws") as ws:
        for bad in (
            "not json",
            "[1]",
            '{"type": "dance"}',
            '{"type": "subscribe"}',
            '{"type": "subscribe", "order_id": "X", "token": "t", "version": "v"}',
        ):
            await ws.send_str(bad)
            (error,) = await frames(ws, 1)
            assert error["type"] == "error", bad
        assert not ws.closed


async def test_agent_feed_sends_the_queue_first_then_exception_changes(
    client: Client, store: RedisTimelineStore
) -> None:
    token = agent_token("agent")
    async with client.ws_connect(f"/v1/ws/agent?token={token}") as ws:
        subscribed, queue = await frames(ws, 2)
        assert subscribed["agent"] == "agent-7"
        assert queue == {"type": "exceptions", "exceptions": []}
        await store.apply([e for e in example_order() if e.kind != "exception.resolved"])
        frame = await until(ws, lambda f: f["type"] == "exception")
        assert frame["exception"]["exception_id"] == "exc:late-sh2"
        assert frame["exception"]["state"] == "open"
    async with client.ws_connect("/v1/ws") as filtered:
        await filtered.send_json(
            {
                "type": "subscribe",
                "feed": "agents",
                "token": token,
                "filters": {"severity": ["critical"]},
            }
        )
        _, queue = await frames(filtered, 2)
        assert queue["exceptions"] == []  # the medium one is filtered out
        await filtered.send_json(
            {
                "type": "subscribe",
                "feed": "agents",
                "token": token,
                "filters": {"severity": ["urgent"]},
            }
        )
        (error,) = await frames(filtered, 1)
        assert error["type"] == "error"


async def raw_subscriber(
    client: Client, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A websocket client that completes the handshake and then never reads again."""
    reader, writer = await asyncio.open_connection(client.host, client.port, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {client.host}:{client.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readuntil(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 101"), status
    return reader, writer


def fat_timeline(version: int) -> bytes:
    lines = [{"line_id": f"L{i}", "name": "x" * 500, "quantity": 1} for i in range(600)]
    return orjson.dumps({"order_id": ORDER, "version": version, "lines": lines})


async def test_a_slow_order_subscriber_never_delays_a_fast_one(
    client: Client, store: RedisTimelineStore, redis: aioredis.Redis, settings: Settings
) -> None:
    await store.apply(example_order())
    token = await customer_token(client)
    path = f"/v1/ws/orders/{ORDER}?token={token}"
    _, slow = await raw_subscriber(client, path)
    channel = RedisKeys(settings.redis.key_prefix).order_channel(ORDER)
    async with client.ws_connect(path, max_msg_size=0) as fast:
        await frames(fast, 2)
        hub = client.server.app[HUB]
        assert len(hub.connections) == 2
        registry = client.server.app[METRICS].registry
        assert registry.get_sample_value("wismo_api_ws_connections", {"channel": "order"}) == 2
        last = 1000 + 80
        started = time.perf_counter()
        for version in range(1001, last + 1):  # ~25 MB for the slow one: far past its buffers
            await redis.publish(channel, fat_timeline(version))
        final = await until(fast, lambda f: f["version"] == last, within_s=20)
        elapsed = time.perf_counter() - started
        assert final["view"]["items"][0]["name"] == "x" * 500
        # the slow one is still connected, holding at most its bounded queue of snapshots
        assert len(hub.connections) == 2
        assert all(c.queued <= settings.api.ws_queue_size for c in hub.connections)
        print(f"fast subscriber got version {last} after {elapsed * 1000:.0f} ms")
    slow.close()


async def test_a_slow_agent_is_disconnected_and_a_fast_one_keeps_everything(
    client: Client, redis: aioredis.Redis, settings: Settings
) -> None:
    token = agent_token("viewer")
    _, slow = await raw_subscriber(client, f"/v1/ws/agent?token={token}&orders=true")
    agents = RedisKeys(settings.redis.key_prefix).agents_channel
    async with client.ws_connect("/v1/ws", max_msg_size=0) as fast:
        await fast.send_json(
            {"type": "subscribe", "feed": "agents", "token": token, "filters": {"orders": True}}
        )
        await frames(fast, 2)
        hub = client.server.app[HUB]
        count = 300
        reading = asyncio.create_task(frames(fast, count, within_s=20))
        for n in range(count):
            summary = {
                "order_id": f"ORD-X{n}",
                "version": n,
                "digest": "d",
                "status": "placed",
                "pad": "y" * 100_000,
            }
            await redis.publish(agents, orjson.dumps(summary))
        seen = [f["version"] for f in await reading]
        assert seen == list(range(count))  # nothing lost for the fast one
        assert len(hub.connections) == 1  # the slow one was dropped
        dropped = client.server.app[METRICS].ws_dropped.collect()[0].samples[0].value
        assert dropped == 1
    slow.close()


@pytest.mark.parametrize(
    "api_options", [{"allowed_origins": ("https://shop.example",), "ws_max_connections": 1}]
)
async def test_origin_allow_list_and_connection_cap(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/v1/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    async with client.ws_connect("/v1/ws", headers={"Origin": "https://shop.example"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as full:
            await client.ws_connect("/v1/ws", headers={"Origin": "https://shop.example"})
        assert full.value.status == 503
    response = await client.get("/v1/ws")  # not an upgrade
    assert response.status == 400


async def test_shutdown_closes_every_websocket_with_going_away(
    settings: Settings, redis: aioredis.Redis
) -> None:
    server = TestServer(create_app(settings))
    client = TestClient(server)
    await client.start_server()
    try:
        ws = await client.ws_connect(f"/v1/ws/agent?token={agent_token('viewer')}")
        await frames(ws, 2)
        shutting_down = asyncio.create_task(server.close())
        closing = await ws.receive(timeout=5)  # a live client reads while the server stops
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
        await shutting_down
    finally:
        await client.close()
