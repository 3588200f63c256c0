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

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from api.changes import ChangeFeed
from api.metrics import ApiMetrics
from api.views.customer import customer_view

log = logging.getLogger(__name__)

SLOW_CLIENT = WSCloseCode.TRY_AGAIN_LATER
_CLOSE_TIMEOUT_S = 1.0

Frame = tuple[bytes, float]  # encoded JSON, when its change reached this process
AgentFilter = Callable[[dict[str, Any]], bool]


@dataclass(eq=False)
class Connection:
    """One websocket: its queue, its writer task and what it watches."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    capacity: int
    metrics: ApiMetrics
    orders: dict[str, int] = field(default_factory=dict)  # order id -> last version sent
    agent_filter: AgentFilter | None = None
    _queue: deque[Frame] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _sent: asyncio.Event = field(default_factory=asyncio.Event)
    _writer: asyncio.Task[None] | None = None
    dropped: bool = False

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="wismo-ws-writer")

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
                frame, arrived = self._queue.popleft()
                await self.ws.send_frame(frame, WSMsgType.TEXT)
                if arrived:
                    self.metrics.push_latency.observe(time.perf_counter() - arrived)
            self._ready.clear()
            self._sent.set()

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


def order_frame(order_id: str, document: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "type": "order",
            "order_id": order_id,
            "version": document.get("version", 0),
            "view": customer_view(document),
        }
    )


class Hub:
    def __init__(self, feed: ChangeFeed, metrics: ApiMetrics, queue_size: int) -> None:
        self.feed = feed
        self.metrics = metrics
        self.queue_size = queue_size
        self.connections: set[Connection] = set()
        self._by_order: dict[str, set[Connection]] = {}
        self._agents: set[Connection] = set()
        self._watching_orders = 0  # connections watching at least one order (kept, not counted)
        self._closing: set[asyncio.Task[None]] = set()
        feed.timeline_handlers.append(self.on_timeline)
        feed.summary_handlers.append(self.on_summary)

    def connect(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> Connection:
        connection = Connection(ws, transport, self.queue_size, self.metrics)
        connection.start()
        self.connections.add(connection)
        self._gauge()
        return connection

    async def disconnect(self, connection: Connection, code: int = WSCloseCode.OK) -> None:
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        self._agents.discard(connection)
        for order_id in list(connection.orders):
            await self.unwatch_order(connection, order_id)
        self._gauge()
        await connection.close(code, flush=code != SLOW_CLIENT)

    # subscriptions --------------------------------------------------------------------------

    async def watch_order(self, connection: Connection, order_id: str, version: int) -> None:
        """Listen first, then the caller reads the current state: no change falls in between."""
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

    def send_order(self, connection: Connection, order_id: str, document: dict[str, Any]) -> None:
        """Send a snapshot unless the connection already has this version or a later one."""
        version = int(document.get("version", 0))
        if version > connection.orders.get(order_id, -1):
            connection.orders[order_id] = version
            self._offer(connection, order_frame(order_id, document), 0.0, supersedes=True)

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
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("undecodable timeline for %s", order_id)
            return
        version = int(document.get("version", 0))
        frame = order_frame(order_id, document)  # encoded once for every watcher
        for connection in list(watchers):
            if version > connection.orders.get(order_id, -1):
                connection.orders[order_id] = version
                self._offer(connection, frame, arrived, supersedes=True)

    def on_summary(self, summary: dict[str, Any]) -> None:
        self._to_agents({"type": "order_changed", **summary})

    def on_exceptions(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._to_agents({"type": "exception", "exception": row})

    def _to_agents(self, document: dict[str, Any]) -> None:
        frame: bytes | None = None
        arrived = time.perf_counter()
        for connection in list(self._agents):
            if connection.agent_filter is not None and not connection.agent_filter(document):
                continue
            frame = frame or orjson.dumps(document)
            self._offer(connection, frame, arrived, supersedes=False)

    def _offer(
        self, connection: Connection, frame: bytes, arrived: float, *, supersedes: bool
    ) -> None:
        if connection.dropped:
            return
        if not connection.offer(frame, arrived, supersedes=supersedes):
            connection.dropped = True
            self.metrics.ws_dropped.inc()
            task = asyncio.get_running_loop().create_task(self.disconnect(connection, SLOW_CLIENT))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

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
