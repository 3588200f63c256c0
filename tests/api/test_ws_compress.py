"""permessage-deflate on the API's websockets: off unless ``api.ws_compress`` turns it on.

Browsers always offer the extension; with it each connection keeps a compressor of its own
(~100 KB) and a broadcast compresses every frame once per connection, so the server declines
by default.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import orjson
import pytest

from tests.api.conftest import Client

#: what Chromium and Firefox send
BROWSER_OFFER = "permessage-deflate; client_max_window_bits"


@pytest.fixture(params=["default", "on", "off"])
def api_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"default": {}, "on": {"ws_compress": True}, "off": {"ws_compress": False}}[
        request.param
    ]


@pytest.fixture
def compressed(api_options: dict[str, Any]) -> bool:
    return bool(api_options.get("ws_compress", False))


async def handshake_head(client: Client, path: str) -> str:
    """The response head to a browser-like upgrade request offering permessage-deflate."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {client.host}:{client.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Extensions: {BROWSER_OFFER}\r\n"
            f"Origin: http://{client.host}:{client.port}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    return head.decode("latin-1")


async def test_a_browser_offer_of_deflate_is_accepted_only_when_enabled(
    client: Client, compressed: bool
) -> None:
    head = await handshake_head(client, "/v1/ws")
    status, *lines = head.split("\r\n")
    assert " 101 " in status
    extensions = [
        line.split(":", 1)[1].strip()
        for line in lines
        if line.lower().startswith("sec-websocket-extensions:")
    ]
    if compressed:
        assert len(extensions) == 1
        assert extensions[0].startswith("permessage-deflate")
    else:
        assert extensions == []


async def test_frames_flow_either_way(client: Client, compressed: bool) -> None:
    async with client.ws_connect("/v1/ws", compress=15) as ws:  # aiohttp offers deflate too
        assert ws.compress == (15 if compressed else 0)
        await ws.send_str("not json")
        message = await ws.receive(timeout=5)
        assert orjson.loads(message.data)["type"] == "error"
