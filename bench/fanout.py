"""``wismo bench fanout``: many idle websockets on one API process.

``subscribers`` customer websockets watch one order and ``consoles`` agent consoles watch the
agents feed (orders included), all on one ``wismo api`` process, all offering
``permessage-deflate`` like a browser (or not, with ``deflate=False``). The server decides:
it accepts the offer only with ``api.ws_compress`` (``compress``, off by default like the
setting); the summary says how many connections ended up compressed. Measured:

- **memory per connection**: the API's resident memory after the connections are open (idle),
  and again after the broadcasts (per-connection compressors exist from the first frame on),
  minus the memory before, per connection;
- **broadcast time**: a new scan of the order is committed to Redis in this process; the store
  publishes it once and the API's hub fans it out. For each round, the time from the commit to
  the frame's arrival at the last customer websocket and at the last agent console;
- **a slow client**: one more websocket watching the same order, and a second order whose page
  is large, stops reading with a tiny receive buffer; updates of the large order fill its
  buffers until the server's writes to it block. The broadcast rounds are run again; the others'
  broadcast times are compared with the rounds before, and after the slow client reads again it
  must catch up on the latest version (older snapshots are dropped, not queued forever).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import jwt
import orjson

from bench import stack
from bench.orders import Parcel, live_scan
from bench.seed import seed_orders, tokens
from bench.stats import Progress, percentiles, ratio, until
from bench.wire import WsConnection, open_ws
from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from wismo.events import Event, event_from_dict
from wismo.settings import Settings

CONNECT_CONCURRENCY = 200
#: checkpoints on the large order: a page of ~40 kB, so a few updates fill a stalled socket
LARGE_ORDER_SCANS = 300
FLOOD_UPDATES = 60
SLOW_RECEIVE_BUFFER = 4096
LIVE_FROM = datetime(2026, 7, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FanoutOptions:
    subscribers: int = 10_000
    consoles: int = 1_000
    rounds: int = 10  # broadcasts per phase: enough for a median (heartbeats make some slow)
    round_timeout_s: float = 60.0
    deflate: bool = True  # offer permessage-deflate, as browsers do
    compress: bool = False  # the API's api.ws_compress: accept that offer


@dataclass
class Group:
    """Connections of one kind and the arrivals of the current round."""

    marker: bytes
    sockets: list[WsConnection] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    listening: bool = False

    def on_frame(self, payload: bytes, arrived: float) -> None:
        if self.listening and self.marker in payload[:40]:
            self.arrivals.append(arrived)


def _scan(order_id: str, number: str, carrier: str, n: int, run: str) -> Event:
    parcel = Parcel(order_id, "", carrier, number)
    at = LIVE_FROM + timedelta(minutes=n)
    words = f"Scan {n} at the regional sorting centre, conveyor belt {n % 40}"
    scan = live_scan(parcel, f"bench:{run}:{number}:{n}", at, words)
    return event_from_dict(scan | {"order_id": order_id, "received_at": datetime.now(UTC)})


class Scans:
    """New scans for an order's first parcel, committed straight to the store."""

    def __init__(self, store: RedisTimelineStore, order_id: str, number: str, carrier: str):
        self.store, self.order_id, self.number, self.carrier = store, order_id, number, carrier
        self.run = uuid.uuid4().hex[:8]
        self.count = 0

    @classmethod
    async def of(cls, store: RedisTimelineStore, order_id: str) -> Scans:
        shipments = orjson.loads(await store.timeline(order_id) or b"{}").get("shipments", [])
        first = shipments[0] if shipments else {}
        number, carrier = first.get("tracking_number"), first.get("carrier")
        return cls(store, order_id, number or f"BENCH{order_id}", carrier or "ups")

    async def add(self, scans: int = 1) -> None:
        events = [
            _scan(self.order_id, self.number, self.carrier, self.count + n, self.run)
            for n in range(scans)
        ]
        self.count += scans
        await self.store.apply(events)


async def _connect(
    group: Group, path: str, options: tuple[int, int, bool], progress: Progress, name: str
) -> None:
    port, how_many, deflate = options
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> None:
        async with gate:
            group.sockets.append(await open_ws(path, port, group.on_frame, deflate=deflate))
            if len(group.sockets) % 1000 == 0:
                progress(f"{len(group.sockets)}/{how_many} {name} connected")

    await asyncio.gather(*(one() for _ in range(how_many)))


async def _round(scans: Scans, groups: Sequence[Group], timeout_s: float) -> list[float]:
    """One broadcast: seconds from the commit to the last arrival, per group."""
    for group in groups:
        group.arrivals.clear()
        group.listening = True
    committed = time.perf_counter()
    await scans.add()
    deadline = time.monotonic() + timeout_s
    while any(len(g.arrivals) < len(g.sockets) for g in groups):
        if time.monotonic() > deadline:
            missing = [len(g.sockets) - len(g.arrivals) for g in groups]
            raise RuntimeError(f"a broadcast did not reach everyone in time: missing {missing}")
        await asyncio.sleep(0.005)
    for group in groups:
        group.listening = False
    return [max(g.arrivals) - committed if g.sockets else 0.0 for g in groups]


async def _rounds(
    scans: Scans, groups: Sequence[Group], options: FanoutOptions
) -> list[list[float]]:
    times = []
    for _ in range(options.rounds):
        times.append(await _round(scans, groups, options.round_timeout_s))
        await asyncio.sleep(0.2)
    return times


def _agent_token(settings: Settings) -> str:
    claims = {"sub": "bench", "roles": ["viewer"], "exp": int(time.time()) + 3600}
    return jwt.encode(claims, settings.api.agent_jwt_secret.get_secret_value(), "HS256")


@dataclass
class SlowClient:
    socket: WsConnection
    order_id: str
    versions: list[int] = field(default_factory=list)
    stalled_at_bytes: int = 0
    received_bytes: int = 0

    def on_frame(self, payload: bytes, arrived: float) -> None:
        self.received_bytes += len(payload)
        document = orjson.loads(payload)
        if document.get("type") == "order" and document.get("order_id") == self.order_id:
            self.versions.append(int(document.get("version", 0)))


async def _slow_client(
    settings: Settings, order_id: str, large_id: str, granted: dict[str, str]
) -> SlowClient:
    port = settings.api.port
    holder: list[SlowClient] = []
    socket = await open_ws(
        f"/v1/ws/orders/{order_id}?token={granted[order_id]}",
        port,
        lambda payload, arrived: holder[0].on_frame(payload, arrived),
        deflate=False,
        receive_buffer=SLOW_RECEIVE_BUFFER,
    )
    slow = SlowClient(socket, order_id)
    holder.append(slow)
    message = {"type": "subscribe", "order_id": large_id, "token": granted[large_id]}
    socket.send_text(orjson.dumps(message))
    await asyncio.sleep(1.0)  # both subscriptions answered
    socket.stall()
    slow.stalled_at_bytes = slow.received_bytes
    return slow


async def _measure(
    settings: Settings, api: stack.Server, options: FanoutOptions, progress: Progress
) -> dict[str, Any]:
    order_ids = await seed_orders(settings, 2)
    order_id, large_id = order_ids
    granted = tokens(settings, order_ids)
    client = await redis_client(settings)
    store = RedisTimelineStore(client, settings.redis.key_prefix, url=settings.redis.url or "")
    scans, large = await Scans.of(store, order_id), await Scans.of(store, large_id)
    await large.add(LARGE_ORDER_SCANS)
    port = settings.api.port
    customers, consoles = Group(b'"type":"order"'), Group(b'"type":"order_changed"')
    groups = (customers, consoles)
    before = api.rss_bytes()
    await _connect(
        customers,
        f"/v1/ws/orders/{order_id}?token={granted[order_id]}",
        (port, options.subscribers, options.deflate),
        progress,
        "customer websockets",
    )
    await _connect(
        consoles,
        f"/v1/ws/agent?token={_agent_token(settings)}&orders=true",
        (port, options.consoles, options.deflate),
        progress,
        "agent consoles",
    )
    connections = options.subscribers + options.consoles
    await asyncio.sleep(2.0)  # initial frames delivered, the server settles
    idle = api.rss_bytes()
    progress(f"{connections} connections open; broadcasting")
    calm = await _rounds(scans, groups, options)
    after = api.rss_bytes()
    progress("a slow client stops reading; its large order floods its buffers")
    slow = await _slow_client(settings, order_id, large_id, granted)
    received = sum(socket.frames for socket in consoles.sockets)
    for _ in range(FLOOD_UPDATES):
        await large.add()
    # the consoles hear of every flood update too: the rounds start once that is delivered
    flooded = received + FLOOD_UPDATES * len(consoles.sockets)
    await until(lambda: sum(s.frames for s in consoles.sockets) >= flooded, 60.0)
    await asyncio.sleep(0.5)
    stalled = await _rounds(scans, groups, options)
    final_version = int(orjson.loads(await store.timeline(order_id) or b"{}").get("version", 0))
    slow.socket.resume()
    await until(lambda: bool(slow.versions) and slow.versions[-1] >= final_version, 30.0)
    for group in groups:
        for socket in group.sockets:
            socket.close()
    slow.socket.close()
    await store.close()
    await client.aclose()
    calm_customers = [t[0] for t in calm]
    stalled_customers = [t[0] for t in stalled]
    return {
        "scenario": "fanout",
        "customer_websockets": len(customers.sockets),
        "agent_consoles": len(consoles.sockets),
        "deflate": options.deflate,
        "ws_compress": options.compress,
        "compressed_connections": sum(
            socket.compressed for group in groups for socket in group.sockets
        ),
        "rss_before_mb": round(before / 2**20, 1),
        "rss_idle_mb": round(idle / 2**20, 1),
        "rss_after_broadcasts_mb": round(after / 2**20, 1),
        "kb_per_connection_idle": round((idle - before) / connections / 1024, 1),
        "kb_per_connection_after_broadcasts": round((after - before) / connections / 1024, 1),
        "rounds": options.rounds,
        **percentiles(calm_customers, "broadcast_customers_"),
        **percentiles([t[1] for t in calm], "broadcast_consoles_"),
        **percentiles(stalled_customers, "with_slow_client_customers_"),
        **percentiles([t[1] for t in stalled], "with_slow_client_consoles_"),
        "slow_client_delay_ratio": ratio(median(stalled_customers), median(calm_customers)),
        "slow_client_order_frames": len(slow.versions),
        # what the server had queued or in flight for it while it was not reading
        "slow_client_kb_held": round((slow.received_bytes - slow.stalled_at_bytes) / 1024),
        "slow_client_caught_up": bool(slow.versions) and slow.versions[-1] >= final_version,
    }


def run(options: FanoutOptions, progress: Progress) -> dict[str, Any]:
    import uvloop

    with stack.embedded() as embedded:
        api = embedded.settings.api.model_copy(update={"ws_compress": options.compress})
        bench = replace(embedded, settings=embedded.settings.model_copy(update={"api": api}))
        with stack.running(bench) as servers:
            return uvloop.run(_measure(bench.settings, servers["api"], options, progress))
