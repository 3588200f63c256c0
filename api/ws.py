"""The websocket hub: live order views for customers and the live feed for agents.

One Redis pub/sub listener per process (:class:`api.changes.ChangeFeed`) hands every change to
the hub, which encodes each frame **once** and offers it to every interested connection without
awaiting anything. Each connection owns a bounded queue drained by its own writer task, so a slow
client only ever delays itself:

- order frames are whole snapshots (a newer one supersedes older ones), so a full queue drops
  its **oldest** frame and the client still converges on the latest view;
- agent frames are deltas (a dropped one would be lost), so a client whose queue is full is
  **disconnected** with close code 1013 (try again later) and re-syncs on reconnect, when the
  current queue is sent first.

Frames carry the timeline ``version``; a connection never gets an order frame at or below the
version it already has, which makes resume-from-version and the subscribe/read race harmless.

A connection lives no longer than what let it in:

- each subscription holds its token's expiry; when the earliest one passes, nothing more is
  queued or written and the socket is closed with :data:`TOKEN_EXPIRED` (4440), which the pages
  answer by fetching a fresh token and reconnecting (a refused token closes with 4401/4403);
- a connection holding no subscription is closed with :data:`IDLE` (4408) once the subscribe
  grace has passed since it opened or dropped its last subscription;
- a browser may open one only from the API's own origin or an allowed one (:func:`origin_allowed`),
  and one client only so many at a time (:meth:`Hub.open_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from api.changes import ChangeFeed
from api.customer_view import customer_view, reader_language
from api.metrics import ApiMetrics
from api.personal import minimal
from projections.customer_order import RETURN_WINDOW_DAYS, customer_order, encode
from projections.exception_flow import timeline_from_json
from projections.timeline_model import Timeline
from wismo.i18n import SHIPPED, SOURCE_LOCALE
from wismo.settings import Settings

log = logging.getLogger(__name__)

SLOW_CLIENT = WSCloseCode.TRY_AGAIN_LATER
#: the token a subscription was granted with has expired: fetch a fresh one and reconnect
TOKEN_EXPIRED = 4440
#: no subscription within the grace: reconnect when there is something to watch
IDLE = 4408
#: closes that must not flush what is queued (the client may no longer see it, or is stuck)
_ABRUPT = frozenset({SLOW_CLIENT, TOKEN_EXPIRED})
_CLOSE_TIMEOUT_S = 1.0
_NEVER = float("inf")

Frame = tuple[bytes, float]  # encoded JSON, when its change reached this process
AgentFilter = Callable[[dict[str, Any]], bool]


@dataclass(eq=False)
class Connection:
    """One websocket: its queue, its writer task and what it watches."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    capacity: int
    metrics: ApiMetrics
    client: str = ""
    subscribe_grace_s: float = _NEVER
    orders: dict[str, int] = field(default_factory=dict)  # order id -> last version sent
    #: order id -> the language its subscriber asked for (``lang`` of the subscribe message)
    langs: dict[str, str | None] = field(default_factory=dict)
    agent_filter: AgentFilter | None = None
    #: the agent feed may show it personal data (else :func:`api.personal.minimal` frames)
    personal: bool = True
    #: subscription ("order:<id>" or "agents") -> when its token expires, in loop time
    expiries: dict[str, float] = field(default_factory=dict)
    deadline: float = _NEVER  # the earliest expiry
    expiry_timer: asyncio.TimerHandle | None = None
    idle_timer: asyncio.TimerHandle | None = None
    _queue: deque[Frame] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _sent: asyncio.Event = field(default_factory=asyncio.Event)
    _writer: asyncio.Task[None] | None = None
    dropped: bool = False

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="wismo-ws-writer")

    @property
    def subscribed(self) -> bool:
        return bool(self.expiries)

    def expired(self) -> bool:
        return asyncio.get_running_loop().time() >= self.deadline

    def offer(self, frame: bytes, arrived: float, *, supersedes: bool) -> bool:
        """Queue a frame without waiting; ``False`` when the client must be dropped."""
        if len(self._queue) >= self.capacity:
            if not supersedes:
                return False
            self._queue.popleft()
        self._queue.append((frame, arrived))
        self._sent.clear()
        self._ready.set()
        return True

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def _write(self) -> None:
        while True:
            await self._ready.wait()
            while self._queue:
                if self.expired():  # not one frame past the token's expiry
                    self._queue.clear()
                    break
                frame, arrived = self._queue.popleft()
                await self.ws.send_frame(frame, WSMsgType.TEXT)
                if arrived:
                    self.metrics.push_latency.observe(time.perf_counter() - arrived)
            self._ready.clear()
            self._sent.set()

    def cancel_timers(self) -> None:
        for timer in (self.expiry_timer, self.idle_timer):
            if timer is not None:
                timer.cancel()

    async def close(self, code: int, *, flush: bool) -> None:
        """Close, after sending what is queued (``flush``, briefly) or at once (a slow client)."""
        if flush and self._queue:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent.wait(), _CLOSE_TIMEOUT_S)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._writer
        try:
            await asyncio.wait_for(self.ws.close(code=code), _CLOSE_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            # the client stopped reading: its buffers are full, so cut the connection
            if self.transport is not None:
                self.transport.abort()


def order_frame(
    order_id: str,
    timeline: Timeline,
    return_window_days: float = RETURN_WINDOW_DAYS,
    *,
    lang: str = SOURCE_LOCALE,
    settings: Settings | None = None,
) -> bytes:
    """The ``order`` frame: the same ``CustomerOrder`` document ``GET /v1/orders/{id}`` answers
    (in ``lang``; with the brand and its return window when ``settings`` are given)."""
    if settings is not None:
        view = customer_view(settings, timeline, lang)
    else:
        view = customer_order(timeline, return_window_days=return_window_days, lang=lang)
    return encode(
        {"type": "order", "order_id": order_id, "version": timeline.version, "view": view}
    )


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """A browser page may connect from the API's own origin (its ``Host``) or an allowed one
    (``*``: any); a client that sends no ``Origin`` is not a browser page and may connect."""
    if origin is None:
        return True
    listed = set(allowed)
    if "*" in listed or origin in listed:
        return True
    own = urlsplit(origin).netloc
    return bool(host) and own.lower() == (host or "").lower()


class Hub:
    def __init__(
        self,
        feed: ChangeFeed,
        metrics: ApiMetrics,
        queue_size: int,
        return_window_days: float = RETURN_WINDOW_DAYS,
        settings: Settings | None = None,
    ) -> None:
        self.feed = feed
        self.settings = settings  # brands and languages of the order frames
        self.metrics = metrics
        self.queue_size = queue_size
        self.return_window_days = return_window_days  # what the order frames offer to return
        self.connections: set[Connection] = set()
        self._per_client: dict[str, int] = {}
        self._by_order: dict[str, set[Connection]] = {}
        self._agents: set[Connection] = set()
        self._watching_orders = 0  # connections watching at least one order (kept, not counted)
        self._closing: set[asyncio.Task[None]] = set()
        feed.timeline_handlers.append(self.on_timeline)
        feed.summary_handlers.append(self.on_summary)

    def open_for(self, client: str) -> int:
        """How many connections ``client`` holds here now."""
        return self._per_client.get(client, 0)

    def connect(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        client: str = "",
        subscribe_grace_s: float = _NEVER,
    ) -> Connection:
        """Track a new socket of ``client``, closed as :data:`IDLE` if it holds no subscription
        ``subscribe_grace_s`` from now (or from when it drops its last one)."""
        connection = Connection(ws, transport, self.queue_size, self.metrics, client)
        connection.subscribe_grace_s = subscribe_grace_s
        connection.start()
        self.connections.add(connection)
        self._per_client[client] = self._per_client.get(client, 0) + 1
        self._arm_idle(connection)
        self._gauge()
        return connection

    async def disconnect(self, connection: Connection, code: int = WSCloseCode.OK) -> None:
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        self._agents.discard(connection)
        connection.expiries.clear()
        connection.cancel_timers()
        left = self._per_client.get(connection.client, 1) - 1
        if left:
            self._per_client[connection.client] = left
        else:
            self._per_client.pop(connection.client, None)
        for order_id in list(connection.orders):
            await self.unwatch_order(connection, order_id)
        self._gauge()
        await connection.close(code, flush=code not in _ABRUPT)

    # token expiry and idleness --------------------------------------------------------------

    def grant(self, connection: Connection, subscription: str, expires_at: float) -> None:
        """``subscription`` holds a token valid until ``expires_at`` (Unix time); a newer token
        for the same subscription replaces the older one's expiry."""
        loop = asyncio.get_running_loop()
        connection.expiries[subscription] = loop.time() + (expires_at - time.time())
        self._rearm_expiry(connection)
        if connection.idle_timer is not None:
            connection.idle_timer.cancel()
            connection.idle_timer = None

    def revoke(self, connection: Connection, subscription: str) -> None:
        if connection.expiries.pop(subscription, None) is None:
            return
        self._rearm_expiry(connection)
        if not connection.subscribed:
            self._arm_idle(connection)

    def _rearm_expiry(self, connection: Connection) -> None:
        if connection.expiry_timer is not None:
            connection.expiry_timer.cancel()
            connection.expiry_timer = None
        connection.deadline = min(connection.expiries.values(), default=_NEVER)
        if connection.deadline != _NEVER:
            loop = asyncio.get_running_loop()
            connection.expiry_timer = loop.call_at(connection.deadline, self._end, connection)

    def _arm_idle(self, connection: Connection) -> None:
        if connection.subscribe_grace_s != _NEVER:
            loop = asyncio.get_running_loop()
            connection.idle_timer = loop.call_later(
                connection.subscribe_grace_s, self._close_if_idle, connection
            )

    def _close_if_idle(self, connection: Connection) -> None:
        connection.idle_timer = None
        if not connection.subscribed:
            self._close_soon(connection, IDLE)

    def _end(self, connection: Connection) -> None:
        connection.expiry_timer = None
        if connection.expired():
            self._close_soon(connection, TOKEN_EXPIRED)
        else:  # the timer fired a hair early
            self._rearm_expiry(connection)

    def _close_soon(self, connection: Connection, code: int) -> None:
        if connection.dropped:
            return
        connection.dropped = True  # nothing more is queued
        task = asyncio.get_running_loop().create_task(self.disconnect(connection, code))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # subscriptions --------------------------------------------------------------------------

    async def watch_order(
        self, connection: Connection, order_id: str, version: int, lang: str | None = None
    ) -> None:
        """Listen first, then the caller reads the current state: no change falls in between."""
        connection.langs[order_id] = lang
        if order_id in connection.orders:
            connection.orders[order_id] = max(connection.orders[order_id], version)
            return
        if not connection.orders:
            self._watching_orders += 1
        connection.orders[order_id] = version
        self._by_order.setdefault(order_id, set()).add(connection)
        await self.feed.watch(order_id)
        self._gauge()

    async def unwatch_order(self, connection: Connection, order_id: str) -> None:
        self.revoke(connection, f"order:{order_id}")
        connection.langs.pop(order_id, None)
        if connection.orders.pop(order_id, None) is None:
            return
        if not connection.orders:
            self._watching_orders -= 1
        watchers = self._by_order.get(order_id)
        if watchers is not None:
            watchers.discard(connection)
            if not watchers:
                del self._by_order[order_id]
        await self.feed.unwatch(order_id)
        self._gauge()

    def send_order(self, connection: Connection, order_id: str, timeline: Timeline) -> None:
        """Send a snapshot unless the connection already has this version or a later one."""
        if timeline.version > connection.orders.get(order_id, -1):
            connection.orders[order_id] = timeline.version
            frame = self._order_frame(order_id, timeline, self._language(connection, timeline))
            self._offer(connection, frame, 0.0, supersedes=True)

    def _language(self, connection: Connection, timeline: Timeline) -> str:
        """The language a subscriber reads the order in (see :mod:`api.customer_view`)."""
        asked = connection.langs.get(timeline.order_id)
        if self.settings is None:
            return asked if asked in SHIPPED else SOURCE_LOCALE
        return reader_language(self.settings, timeline, asked, None)

    def _order_frame(self, order_id: str, timeline: Timeline, lang: str) -> bytes:
        return order_frame(
            order_id, timeline, self.return_window_days, lang=lang, settings=self.settings
        )

    def watch_agents(self, connection: Connection, wanted: AgentFilter) -> None:
        connection.agent_filter = wanted
        self._agents.add(connection)
        self._gauge()

    def send(self, connection: Connection, document: Any) -> None:
        self._offer(connection, orjson.dumps(document), 0.0, supersedes=False)

    # changes from the feed ------------------------------------------------------------------

    def on_timeline(self, order_id: str, data: bytes, arrived: float) -> None:
        watchers = self._by_order.get(order_id)
        if not watchers:
            return
        try:
            timeline = timeline_from_json(data)
        except ValueError:  # pydantic's ValidationError is one
            log.warning("undecodable timeline for %s", order_id)
            return
        version = timeline.version
        # built and encoded once per language for every watcher
        frames: dict[str, bytes] = {}
        for connection in list(watchers):
            if version > connection.orders.get(order_id, -1):
                connection.orders[order_id] = version
                lang = self._language(connection, timeline)
                if lang not in frames:
                    frames[lang] = self._order_frame(order_id, timeline, lang)
                self._offer(connection, frames[lang], arrived, supersedes=True)

    def on_summary(self, summary: dict[str, Any]) -> None:
        self._to_agents({"type": "order_changed", **summary})

    def on_exceptions(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._to_agents({"type": "exception", "exception": row})

    def _to_agents(self, document: dict[str, Any]) -> None:
        frames: dict[bool, bytes] = {}  # encoded once per kind of reader
        arrived = time.perf_counter()
        for connection in list(self._agents):
            if connection.agent_filter is not None and not connection.agent_filter(document):
                continue
            personal = connection.personal
            if personal not in frames:
                frames[personal] = orjson.dumps(document if personal else minimal(document))
            self._offer(connection, frames[personal], arrived, supersedes=False)

    def _offer(
        self, connection: Connection, frame: bytes, arrived: float, *, supersedes: bool
    ) -> None:
        if connection.dropped:
            return
        if connection.expired():  # its timer has not run yet: close now, send nothing
            self._close_soon(connection, TOKEN_EXPIRED)
        elif not connection.offer(frame, arrived, supersedes=supersedes):
            self.metrics.ws_dropped.inc()
            self._close_soon(connection, SLOW_CLIENT)

    def _gauge(self) -> None:
        gauge = self.metrics.ws_connections
        gauge.labels("all").set(len(self.connections))
        gauge.labels("order").set(self._watching_orders)
        gauge.labels("agents").set(len(self._agents))

    async def close_all(self) -> None:
        """On shutdown: every client gets a 1001 "going away" (and may reconnect elsewhere)."""
        await asyncio.gather(
            *(self.disconnect(c, WSCloseCode.GOING_AWAY) for c in list(self.connections))
        )
