"""How long a websocket may live, over a real server and client: no longer than its token
(4440, then the page fetches a fresh one), not idle past the subscribe grace (4408), not from a
foreign page (403 before the upgrade), not beyond a client's share of sockets (429)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from pydantic import SecretStr

from api.auth import issue_customer_token
from api.ws import IDLE, TOKEN_EXPIRED, origin_allowed
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import AGENT_SECRET, CUSTOMER_SECRET, Client, agent_token, example_order
from tests.api.test_live import late_scan

ORDER = "ORD-1001"
GRACE_S = 0.5


@pytest.fixture
def api_options() -> dict[str, Any]:
    return {"ws_subscribe_grace_s": GRACE_S, "ws_max_per_client": 3}


def short_customer_token(ttl_s: int) -> tuple[str, float]:
    token = issue_customer_token(SecretStr(CUSTOMER_SECRET), ORDER, datetime.now(UTC), ttl_s)
    return token, float(jwt.decode(token, options={"verify_signature": False})["exp"])


def short_agent_token(ttl_s: int, *roles: str) -> tuple[str, float]:
    expires = int(time.time()) + ttl_s
    claims = {"sub": "agent-7", "roles": list(roles), "exp": expires}
    return jwt.encode(claims, AGENT_SECRET, algorithm="HS256"), float(expires)


async def until_closed(
    ws: aiohttp.ClientWebSocketResponse, within_s: float
) -> tuple[list[float], aiohttp.WSMessage]:
    """When each text frame arrived (wall clock), and the close message."""
    arrivals: list[float] = []
    deadline = time.monotonic() + within_s
    while True:
        message = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if message.type is aiohttp.WSMsgType.TEXT:
            arrivals.append(time.time())
            continue
        return arrivals, message


async def keep_changing(store: RedisTimelineStore) -> None:
    """A new scan every 0.2 s: the order keeps changing through the expiry."""
    for minute in range(59):
        await store.apply([late_scan(minute)])
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def changing(store: RedisTimelineStore) -> Any:
    task = asyncio.create_task(keep_changing(store))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_customer_socket_closes_when_its_token_expires(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    token, expires = short_customer_token(2)
    async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws, changing(store):
        arrivals, closing = await until_closed(ws, within_s=expires - time.time() + 3)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == TOKEN_EXPIRED
    assert len(arrivals) >= 3  # subscribed, the current view, then changes while it was valid
    assert max(arrivals) < expires + 0.05  # nothing after the expiry (transit aside)
    assert time.time() < expires + 1.5  # and closed promptly


async def test_an_agent_socket_closes_when_its_jwt_expires(
    client: Client, store: RedisTimelineStore
) -> None:
    token, expires = short_agent_token(2, "viewer")
    async with (
        client.ws_connect(f"/v1/ws/agent?orders=true&token={token}") as ws,
        changing(store),
    ):
        arrivals, closing = await until_closed(ws, within_s=expires - time.time() + 3)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == TOKEN_EXPIRED
    assert len(arrivals) >= 2  # subscribed and the queue
    assert max(arrivals) < expires + 0.05


async def test_a_fresh_token_on_the_same_socket_extends_it(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    token, expires = short_customer_token(2)
    fresh, _ = short_customer_token(3600)
    async with client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as ws:
        await ws.send_json({"type": "subscribe", "order_id": ORDER, "token": fresh})
        await asyncio.sleep(expires - time.time() + 0.5)
        await store.apply([late_scan(1)])
        frame = orjson.loads((await ws.receive(timeout=5)).data)
        while frame["type"] != "order" or frame["version"] <= len(example_order()):
            frame = orjson.loads((await ws.receive(timeout=5)).data)
        assert not ws.closed


async def test_an_agent_whose_new_token_lacks_the_role_loses_the_feed(client: Client) -> None:
    async with client.ws_connect(f"/v1/ws/agent?token={agent_token('viewer')}") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
        await ws.receive_json(timeout=5)  # the queue
        await ws.send_json({"type": "subscribe", "feed": "agents", "token": agent_token()})
        _, closing = await until_closed(ws, within_s=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4403


async def test_a_socket_that_never_subscribes_is_closed_after_the_grace(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    token, _ = short_customer_token(3600)
    opened = time.monotonic()
    async with (
        client.ws_connect("/v1/ws") as idle,
        client.ws_connect(f"/v1/ws/orders/{ORDER}?token={token}") as busy,
    ):
        _, closing = await until_closed(idle, within_s=GRACE_S + 3)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert idle.close_code == IDLE
        assert GRACE_S <= time.monotonic() - opened < GRACE_S + 2
        assert not busy.closed  # subscribed within the grace: stays
        await busy.send_json({"type": "unsubscribe", "order_id": ORDER})
        _, closing = await until_closed(busy, within_s=GRACE_S + 3)  # idle again
        assert busy.close_code == IDLE


async def test_one_client_holds_at_most_its_share_of_sockets(client: Client) -> None:
    held = [await client.ws_connect("/v1/ws") for _ in range(3)]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/v1/ws")
        assert refused.value.status == 429
        await held.pop().close()
        await asyncio.sleep(0.05)
        held.append(await client.ws_connect("/v1/ws"))  # a closed one frees its place
    finally:
        for ws in held:
            await ws.close()


async def test_browsers_connect_only_from_the_api_own_origin_by_default(client: Client) -> None:
    own = f"http://{client.host}:{client.port}"
    async with client.ws_connect("/v1/ws", headers={"Origin": own}) as ws:
        assert not ws.closed
    for foreign in ("http://evil.example", "null", f"http://{client.host}:1"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/v1/ws", headers={"Origin": foreign})
        assert refused.value.status == 403
    async with client.ws_connect("/v1/ws") as ws:  # no Origin: not a browser page
        assert not ws.closed


def test_allowed_origins_extend_the_api_own() -> None:
    shop = ("https://shop.example",)
    assert origin_allowed("https://api.example", "api.example", ())
    assert origin_allowed("https://API.example", "api.example", shop)
    assert origin_allowed("https://shop.example", "api.example", shop)
    assert not origin_allowed("https://evil.example", "api.example", shop)
    assert not origin_allowed("https://shop.example", "api.example", ())
    assert origin_allowed("https://evil.example", "api.example", ("*",))
    assert origin_allowed(None, "api.example", ())
    assert not origin_allowed("https://api.example", None, ())
