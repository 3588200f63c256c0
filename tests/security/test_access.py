"""Nobody sees an order that is not theirs: every customer route and websocket form against every
kind of wrong token; every agent route against every kind of wrong JWT; foreign origins; the
lookup throttle that keeps order numbers from being swept.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from pydantic import SecretStr

from api.auth import issue_customer_token
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import AGENT_SECRET, CUSTOMER_SECRET, Client
from tests.projections.synthetic import order_history

ORDERS = 6


async def _orders(store: RedisTimelineStore) -> list[str]:
    rng = random.Random(17)
    await store.apply([event for index in range(ORDERS) for event in order_history(index, rng)])
    return [f"ORD-{index}" for index in range(ORDERS)]


async def _token(client: Client, index: int) -> str:
    response = await client.post(
        "/v1/lookup",
        json={"order_number": f"{100000 + index}", "email": f"customer{index}@example.com"},
    )
    assert response.status == 200, await response.text()
    token: str = (await response.json())["token"]
    return token


def _customer(order_id: str, **claims: Any) -> str:
    """A capability token as the API would issue it, with ``claims`` changed."""
    issued = issue_customer_token(SecretStr(CUSTOMER_SECRET), order_id, datetime.now(UTC), 600)
    decoded = jwt.decode(issued, options={"verify_signature": False})
    return _resign(issued, decoded | claims)


def _resign(token: str, claims: dict[str, Any]) -> str:
    """The same header and signature over other claims: what a tamperer can produce."""
    header, _, signature = token.split(".")
    body = jwt.utils.base64url_encode(orjson.dumps(claims)).decode()
    return f"{header}.{body}.{signature}"


def _unsigned(claims: dict[str, Any]) -> str:
    header = jwt.utils.base64url_encode(orjson.dumps({"alg": "none", "typ": "JWT"})).decode()
    return f"{header}.{jwt.utils.base64url_encode(orjson.dumps(claims)).decode()}."


def _agent(roles: list[str], *, secret: str = AGENT_SECRET, ttl_s: int = 3600) -> str:
    claims = {"sub": "agent-7", "roles": roles, "exp": int(time.time()) + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


def _bad_customer_tokens(order_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    future = int((now + timedelta(hours=1)).timestamp())
    issued = issue_customer_token(SecretStr(CUSTOMER_SECRET), order_id, now, 600)
    header, claims, signature = issued.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "expired": issue_customer_token(
            SecretStr(CUSTOMER_SECRET), order_id, now - timedelta(hours=1), 60
        ),
        "signature-flipped": f"{header}.{claims}.{flipped}",
        "no-signature": f"{header}.{claims}.",
        "alg-none": _unsigned({"sub": order_id, "aud": "wismo:order", "exp": future}),
        "raw-secret": jwt.encode(
            {"sub": order_id, "aud": "wismo:order", "exp": future}, CUSTOMER_SECRET, "HS256"
        ),
        "agent-secret": jwt.encode(
            {"sub": order_id, "aud": "wismo:order", "exp": future}, AGENT_SECRET, "HS256"
        ),
        "wrong-audience": _customer(order_id, aud="wismo:agent"),
        "exp-extended": _resign(issued, {"sub": order_id, "aud": "wismo:order", "exp": future * 2}),
        "agent-jwt": _agent(["supervisor"]),
        "garbage": "not.a.token",
    }


async def test_each_token_reads_its_own_order_and_no_other_on_every_route(
    client: Client, store: RedisTimelineStore
) -> None:
    orders = await _orders(store)
    tokens = [await _token(client, index) for index in range(ORDERS)]
    for index, token in enumerate(tokens):
        for target, order_id in enumerate(orders):
            by_header = await client.get(
                f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}
            )
            by_query = await client.get(f"/v1/orders/{order_id}", params={"token": token})
            expected = 200 if target == index else 403
            assert (by_header.status, by_query.status) == (expected, expected), (index, target)
            if expected == 200:
                assert (await by_query.json())["order_number"] == f"{100000 + index}"
    # a token for an order also does not reach the agent views of that same order
    response = await client.get(
        f"/v1/agent/orders/{orders[0]}", headers={"Authorization": f"Bearer {tokens[0]}"}
    )
    assert response.status == 401


async def test_forged_expired_and_misused_customer_tokens_are_refused(
    client: Client, store: RedisTimelineStore
) -> None:
    (order_id, other, *_) = await _orders(store)
    for name, token in _bad_customer_tokens(order_id).items():
        response = await client.get(f"/v1/orders/{order_id}", params={"token": token})
        assert response.status == 401, name
        assert (await response.json())["error"] == "unauthorized"
    # claims moved to another order under the original signature: not a token either
    moved = _customer(order_id, sub=other)
    assert (await client.get(f"/v1/orders/{other}", params={"token": moved})).status == 401


async def _closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[dict[str, Any], int | None]:
    first = await ws.receive(timeout=5)
    assert first.type is aiohttp.WSMsgType.TEXT, first
    closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    frame: dict[str, Any] = orjson.loads(first.data)
    return frame, ws.close_code


async def test_websocket_subscriptions_for_another_order_or_with_bad_tokens_are_closed(
    client: Client, store: RedisTimelineStore
) -> None:
    (order_id, other, *_) = await _orders(store)
    token = await _token(client, 0)
    paths = {
        f"/v1/ws/orders/{other}?token={token}": 4403,
        f"/v1/ws?order_id={other}&token={token}": 4403,
        f"/v1/ws/orders/{order_id}": 4401,
        f"/v1/ws/agent?token={token}": 4401,
    }
    paths |= {
        f"/v1/ws/orders/{order_id}?token={bad}": 4401
        for bad in _bad_customer_tokens(order_id).values()
    }
    for path, code in paths.items():
        async with client.ws_connect(path) as ws:
            frame, closed = await _closed_with(ws)
            assert (frame["type"], closed) == ("error", code), path
    # by message: the socket gets the error, and the order's view never arrives
    async with client.ws_connect("/v1/ws") as ws:
        await ws.send_json({"type": "subscribe", "order_id": other, "token": token})
        frame, closed = await _closed_with(ws)
        assert (frame["type"], closed) == ("error", 4403)
    # the right token still works on the same routes
    async with client.ws_connect(f"/v1/ws/orders/{order_id}?token={token}") as ws:
        subscribed = orjson.loads((await ws.receive(timeout=5)).data)
        assert (subscribed["type"], subscribed["order_id"]) == ("subscribed", order_id)


AGENT_READS = ["/v1/agent/orders/ORD-0", "/v1/agent/search?q=100000", "/v1/agent/exceptions"]
AGENT_ACTS = ["/v1/agent/exceptions/exc:none/acknowledge", "/v1/agent/exceptions/exc:none/resolve"]


@pytest.mark.parametrize(
    ("auth", "read_status", "act_status"),
    [
        (None, 401, 401),
        ("Bearer", 401, 401),
        ("Basic YWdlbnQ6cGFzcw==", 401, 401),
        (
            f"Bearer {_agent(['supervisor'], secret='not-the-agent-secret-but-long-enough')}",
            401,
            401,
        ),
        (f"Bearer {_agent(['supervisor'], ttl_s=-60)}", 401, 401),
        (f"Bearer {_unsigned({'sub': 'a', 'roles': ['supervisor'], 'exp': 2**40})}", 401, 401),
        (f"Bearer {_agent([])}", 403, 403),
        (f"Bearer {_agent(['customer', 'admin'])}", 403, 403),
        (f"Bearer {_agent(['viewer'])}", 200, 403),
    ],
    ids=[
        "none",
        "empty",
        "basic",
        "wrong-secret",
        "expired",
        "alg-none",
        "no-roles",
        "unknown-roles",
        "viewer",
    ],
)
async def test_agent_routes_need_the_right_role_from_a_valid_jwt(
    client: Client, store: RedisTimelineStore, auth: str | None, read_status: int, act_status: int
) -> None:
    await _orders(store)
    headers = {"Authorization": auth} if auth else {}
    for path in AGENT_READS:
        response = await client.get(path, headers=headers)
        assert response.status == read_status, (path, await response.text())
    for path in AGENT_ACTS:
        response = await client.post(path, json={"note": "x"}, headers=headers)
        assert response.status == act_status, (path, await response.text())
    token = auth.split(" ", 1)[1] if auth and " " in auth else ""
    async with client.ws_connect(f"/v1/ws/agent?token={token}") as ws:
        first = orjson.loads((await ws.receive(timeout=5)).data)
        if read_status == 200:
            assert first["type"] == "subscribed"
        else:
            assert first["type"] == "error"
            assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4000 + read_status


@pytest.mark.parametrize("api_options", [{"allowed_origins": ("https://shop.example",)}])
async def test_websockets_from_a_foreign_origin_are_refused_before_the_upgrade(
    client: Client, store: RedisTimelineStore
) -> None:
    (order_id, *_) = await _orders(store)
    token = await _token(client, 0)
    for path in (f"/v1/ws/orders/{order_id}?token={token}", "/v1/ws", "/v1/ws/agent"):
        for origin in ("https://evil.example", "https://shop.example.evil.example", "null"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(path, headers={"Origin": origin})
            assert refused.value.status == 403, (path, origin)
    async with client.ws_connect(
        f"/v1/ws/orders/{order_id}?token={token}", headers={"Origin": "https://shop.example"}
    ) as ws:
        assert orjson.loads((await ws.receive(timeout=5)).data)["type"] == "subscribed"


async def test_lookups_are_throttled_so_order_numbers_cannot_be_swept(
    client: Client, store: RedisTimelineStore
) -> None:
    await _orders(store)
    statuses = []
    for guess in range(30):
        response = await client.post(
            "/v1/lookup", json={"order_number": f"{100000 + guess}", "postcode": "LS1 1AB"}
        )
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) >= 1
    assert set(statuses[:10]) <= {200, 404}
    assert statuses.count(429) >= 15
