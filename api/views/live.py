"""``/v1/ws``: one websocket, subscriptions by message (or by URL for the simple cases).

Client → server (JSON text frames)::

    {"type": "subscribe", "order_id": "…", "token": "<capability token>", "version": 12}
    {"type": "subscribe", "feed": "agents", "token": "<agent JWT>",
     "filters": {"orders": false, "severity": ["high"], "type": […], "carrier": […]}}
    {"type": "unsubscribe", "order_id": "…"}

Server → client: ``subscribed`` (with the current version), ``order`` (the customer view, sent
first on subscribe unless the client's ``version`` is current, then on every change),
``exceptions`` (the agent queue, sent first), ``exception`` and ``order_changed`` (agent deltas),
``error``. The URL forms ``/v1/ws/orders/{order_id}?token=…&version=…``,
``/v1/ws/agent?token=…&orders=true&severity=high,critical`` and ``/v1/ws?order_id=…&token=…``
subscribe on connect.

Auth failures close the socket with 4401 / 4403 / 4404 (4000 + the HTTP status); a socket whose
token expires with 4440, one that subscribes to nothing within ``api.ws_subscribe_grace_s`` with
4408 (see :mod:`api.ws`); a slow agent client is closed with 1013, every client with 1001 on
shutdown. A foreign Origin is refused with 403 and a client over ``api.ws_max_per_client`` with
429, before the upgrade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import jwt
import orjson
from aiohttp import WSMsgType, web

from api.auth import READ_ROLES, agent_from_token, authorize_order, bearer
from api.clients import client_of
from api.errors import ApiError, BadRequest, Forbidden, NotFound, TooManyRequests, Unavailable
from api.keys import AGENT_INDEX, CLOCK, HUB, SETTINGS, STORE
from api.personal import for_roles, sees_personal_data
from api.ws import Connection, origin_allowed
from projections.agent_index import ExceptionQuery, select_exceptions
from projections.exception_flow import timeline_from_json
from wismo.vocab import ExceptionType, Severity

MAX_MESSAGE_BYTES = 16 * 1024
MAX_ORDERS_PER_CONNECTION = 20
_FILTERS = {"severity": frozenset(Severity), "type": frozenset(ExceptionType), "carrier": None}


def _check_origin(request: web.Request, allowed: tuple[str, ...]) -> None:
    # browsers always send Origin, so cross-site pages are refused; other clients may omit it
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.host, allowed):
        raise Forbidden(f"origin {origin} is not allowed")


def _expires_at(token: str | None) -> float:
    """When a token just verified expires (both kinds require ``exp``)."""
    claims = jwt.decode(token or "", options={"verify_signature": False})
    return float(claims["exp"])


async def websocket(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings, hub = app[SETTINGS], app[HUB]
    _check_origin(request, settings.api.allowed_origins)
    if len(hub.connections) >= settings.api.ws_max_connections:
        raise Unavailable("too many live connections on this server; retry", retry_after_s=5)
    client = client_of(request)
    if hub.open_for(client) >= settings.api.ws_max_per_client:
        raise TooManyRequests("too many live connections from this client", retry_after_s=5)
    ws = web.WebSocketResponse(
        heartbeat=settings.api.ws_heartbeat_s,
        max_msg_size=MAX_MESSAGE_BYTES,
        # off by default: a compressor per connection costs ~100 KB and a broadcast compresses
        # each frame once per connection
        compress=settings.api.ws_compress,
    )
    if not ws.can_prepare(request).ok:
        raise BadRequest("expected a websocket upgrade")
    await ws.prepare(request)
    connection = hub.connect(ws, request.transport, client, settings.api.ws_subscribe_grace_s)
    code = 1000
    try:
        initial = _from_url(request)
        if initial:
            await _subscribe(request, connection, initial)
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                await _handle(request, connection, message.data)
            except BadRequest as error:
                hub.send(connection, {"type": "error", **error.body()})
    except ApiError as error:
        hub.send(connection, {"type": "error", **error.body()})
        code = 4000 + error.status
    finally:
        await hub.disconnect(connection, code)
    return ws


def _from_url(request: web.Request) -> dict[str, Any]:
    query: Mapping[str, str] = request.query
    token = query.get("token") or bearer(request.headers)
    if "order_id" in request.match_info or "order_id" in query:
        order_id = request.match_info.get("order_id") or query["order_id"]
        version, lang = query.get("version"), query.get("lang")
        return {"order_id": order_id, "token": token, "version": version, "lang": lang}
    if request.path.endswith("/agent") or query.get("feed") == "agents":
        filters: dict[str, Any] = {"orders": query.get("orders") in ("1", "true")}
        filters |= {name: query[name].split(",") for name in _FILTERS if query.get(name)}
        return {"feed": "agents", "token": token, "filters": filters}
    return {}


async def _handle(request: web.Request, connection: Connection, data: str) -> None:
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"not JSON: {error}") from error
    if not isinstance(message, dict):
        raise BadRequest("a message must be a JSON object")
    kind = message.get("type")
    if kind == "subscribe":
        await _subscribe(request, connection, message)
    elif kind == "unsubscribe" and isinstance(message.get("order_id"), str):
        await request.app[HUB].unwatch_order(connection, message["order_id"])
    else:
        raise BadRequest("expected a subscribe or unsubscribe message")


async def _subscribe(request: web.Request, connection: Connection, message: dict[str, Any]) -> None:
    token = message.get("token")
    if token is not None and not isinstance(token, str):
        raise BadRequest("token must be text")
    if message.get("feed") == "agents":
        await _subscribe_agents(request, connection, token, message.get("filters") or {})
    elif isinstance(message.get("order_id"), str):
        version = _version(message.get("version"))
        lang = message.get("lang") if isinstance(message.get("lang"), str) else None
        await _subscribe_order(request, connection, message["order_id"], token, version, lang)
    else:
        raise BadRequest('subscribe needs an "order_id" or "feed": "agents"')


def _version(value: Any) -> int:
    if value is None:
        return -1
    try:
        version = int(value)
    except (TypeError, ValueError) as error:
        raise BadRequest("version must be a whole number") from error
    if version < 0:
        raise BadRequest("version must not be negative")
    return version


async def _subscribe_order(
    request: web.Request,
    connection: Connection,
    order_id: str,
    token: str | None,
    version: int,
    lang: str | None = None,
) -> None:
    app = request.app
    hub = app[HUB]
    authorize_order(app[SETTINGS].api.customer_token_secret, token, order_id)
    if order_id not in connection.orders and len(connection.orders) >= MAX_ORDERS_PER_CONNECTION:
        raise BadRequest(f"at most {MAX_ORDERS_PER_CONNECTION} orders per connection")
    hub.grant(connection, f"order:{order_id}", _expires_at(token))
    await hub.watch_order(connection, order_id, version, lang)
    raw = await app[STORE].timeline(order_id)
    if raw is None:
        raise NotFound(f"order {order_id} is not known")
    timeline = timeline_from_json(raw)
    hub.send(connection, {"type": "subscribed", "order_id": order_id, "version": timeline.version})
    hub.send_order(connection, order_id, timeline)


def _agent_filter(filters: Any) -> tuple[ExceptionQuery, bool]:
    if not isinstance(filters, dict):
        raise BadRequest("filters must be an object")
    chosen: dict[str, frozenset[str]] = {}
    for name, allowed in _FILTERS.items():
        values = filters.get(name) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest(f"filters.{name} must be a list of text")
        if allowed is not None and set(values) - allowed:
            raise BadRequest(f"unknown filters.{name}: {sorted(set(values) - allowed)}")
        chosen[name] = frozenset(values)
    query = ExceptionQuery(
        types=chosen["type"], severities=chosen["severity"], carriers=chosen["carrier"]
    )
    return query, bool(filters.get("orders", False))


async def _subscribe_agents(
    request: web.Request, connection: Connection, token: str | None, filters: Any
) -> None:
    app = request.app
    agent = agent_from_token(app[SETTINGS].api.agent_jwt_secret, token, READ_ROLES)
    query, with_orders = _agent_filter(filters)
    query = replace(query, brands=agent.brands)

    def wanted(document: dict[str, Any]) -> bool:
        if document["type"] == "order_changed":
            # a change summary names no brand: a brand-restricted agent gets exception deltas only
            return with_orders and agent.brands is None
        row = document["exception"]
        if not agent.sees(row.get("brand")):
            return False
        return all(
            not values or row.get(name) in values
            for name, values in (
                ("type", query.types),
                ("severity", query.severities),
                ("carrier", query.carriers),
            )
        )

    hub = app[HUB]
    hub.grant(connection, "agents", _expires_at(token))
    connection.personal = sees_personal_data(agent.roles)
    hub.watch_agents(connection, wanted)
    rows = select_exceptions(await app[AGENT_INDEX].exceptions(), query, app[CLOCK]())
    hub.send(connection, {"type": "subscribed", "feed": "agents", "agent": agent.agent_id})
    hub.send(connection, {"type": "exceptions", "exceptions": for_roles(rows, agent.roles)})
