"""``wismo bench latency``: a signed webhook POST → the websocket frame showing it.

The API (``wismo api``) and one worker (``wismo run --roles normalise,timeline``) run as their
own processes. ``orders`` orders (:func:`bench.seed.bench_orders`) are put on the raw topic and
folded; then one websocket per order subscribes to it, as a customer's status page does (offering
``permessage-deflate`` like a browser). The load: carrier scans of those orders' parcels, each a
``tracking.checkpoint`` signed under Standard Webhooks and POSTed to ``/v1/webhooks/oms`` at
``rate`` per second (open loop), round-robin over the orders. A scan's latency runs from the
moment its POST is due (a wait for a free connection counts) to the arrival of the first frame
whose view lists that checkpoint; the whole path is in it: HTTP, the raw topic, normalise,
link, the events topic, the timeline agent, Redis, pub/sub, the API's hub and the websocket.

Targets: p50 ≤ 20 ms, p99 ≤ 100 ms at 500 events/s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench import stack
from bench.orders import Parcel, Story, live_scan
from bench.seed import bench_orders, tokens
from bench.stats import Progress, every_second, percentiles, until
from bench.wire import HttpConnection, WsConnection, http_request, open_http, open_ws
from carriers.standard_webhooks import sign
from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from wismo.settings import Settings
from wismo.topics import RAW, RawPayload

#: live scans happen after everything the generated history tells
LIVE_FROM = datetime(2026, 6, 1, tzinfo=UTC)
SETUP_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class LatencyOptions:
    orders: int = 1000
    rate: float = 500.0
    duration_s: float = 30.0
    events: int | None = None  # overrides rate * duration
    drain_s: float = 15.0
    pool: int = 64
    batch_timeout_s: float | None = None  # the workers' batch wait; None: the setting's default
    direct_linked_scans: bool = True  # False: every scan through the link agent

    @property
    def total(self) -> int:
        return (
            self.events if self.events is not None else max(1, round(self.rate * self.duration_s))
        )


@dataclass
class Tally:
    posted: int = 0
    seen: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    post_latencies: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    #: order id -> {checkpoint second: when its POST was due}
    pending: dict[str, dict[int, float]] = field(default_factory=dict)

    def frame(self, payload: bytes, arrived: float) -> None:
        document = orjson.loads(payload)
        waiting = self.pending.get(document.get("order_id", ""))
        if document.get("type") != "order" or not waiting:
            return
        oldest = min(waiting)
        for shipment in document["view"]["shipments"]:
            for checkpoint in shipment["checkpoints"]:  # newest first
                second = int(datetime.fromisoformat(checkpoint["at"]).timestamp())
                if second < oldest:
                    break
                sent = waiting.pop(second, None)
                if sent is not None:
                    self.latencies.append(arrived - sent)
                    self.seen += 1


async def _publish(settings: Settings, orders: list[Story]) -> None:
    """Each order's history as one ``oms`` delivery on the raw topic (the setup is not timed)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, linger_ms=5)
    await producer.start()
    try:
        received = datetime.now(UTC)
        sent = []
        for order in orders:
            raw = RawPayload(
                "oms",
                orjson.dumps(list(order.documents())),
                received,
                delivery_id=f"setup-{order.order_id}",
            )
            sent.append(
                await producer.send(
                    settings.topic(RAW), raw.body, key=raw.key, headers=raw.kafka_headers()
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _folded(raw: bytes | None, order: Story) -> bool:
    """Whether the timeline holds every event of the setup (its scans came through link)."""
    if raw is None:
        return False
    document = orjson.loads(raw)
    applied: int = document.get("events_applied", 0)
    return applied >= sum(1 for _ in order.documents())


async def setup_parcels(settings: Settings, count: int) -> list[Parcel]:
    """Put the orders on the raw topic; wait until every stage has worked through them, so the
    measured scans queue behind nothing."""
    orders = bench_orders(count)
    await _publish(settings, orders)
    client = await redis_client(settings)
    store = RedisTimelineStore(client, settings.redis.key_prefix, url=settings.redis.url or "")
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    try:
        waiting = list(orders)
        while waiting:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} orders never reached Redis during the setup")
            await asyncio.sleep(0.5)
            waiting = [o for o in waiting if not _folded(await store.timeline(o.order_id), o)]
    finally:
        await store.close()
        await client.aclose()
    return [o.parcels[0] for o in orders]


def scan_webhook(parcel: Parcel, n: int, at: datetime, run: str, secret: str, port: int) -> bytes:
    event = live_scan(parcel, f"bench:{run}:{parcel.tracking_number}:{n}", at)
    body = orjson.dumps(event)
    delivery = f"bench-{run}-{n}"
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, delivery, timestamp, body),
    }
    return http_request("POST", "/v1/webhooks/oms", port, headers, body)


async def _subscribe(
    settings: Settings, parcels: list[Parcel], tally: Tally, progress: Progress
) -> list[WsConnection]:
    port = settings.api.port
    granted = tokens(settings, sorted({p.order_id for p in parcels}))
    first_frames: set[str] = set()

    def on_frame(payload: bytes, arrived: float) -> None:
        if tally.pending:
            tally.frame(payload, arrived)
        else:
            first_frames.add(orjson.loads(payload).get("order_id", ""))

    gate = asyncio.Semaphore(100)

    async def one(order_id: str, token: str) -> WsConnection:
        async with gate:
            return await open_ws(f"/v1/ws/orders/{order_id}?token={token}", port, on_frame)

    sockets = await asyncio.gather(*(one(o, t) for o, t in granted.items()))
    first_frames.discard("")
    await until(lambda: len(first_frames) >= len(granted), 30.0)
    progress(f"{len(sockets)} websockets subscribed, {len(first_frames)} with their order")
    return sockets


async def _load(
    settings: Settings, options: LatencyOptions, parcels: list[Parcel], progress: Progress
) -> dict[str, Any]:
    tally = Tally()
    sockets = await _subscribe(settings, parcels, tally, progress)
    port = settings.api.port
    secret = settings.webhook_secrets["oms"][0].get_secret_value()
    run = uuid.uuid4().hex[:8]
    idle = deque([await open_http(port) for _ in range(options.pool)])
    waiting: deque[tuple[str, int, bytes, float]] = deque()
    tasks: set[asyncio.Task[None]] = set()

    async def post(
        connection: HttpConnection, order_id: str, second: int, raw: bytes, due: float
    ) -> None:
        while True:
            tally.pending.setdefault(order_id, {})[second] = due
            status, _ = await connection.request(raw)
            tally.post_latencies.append(time.perf_counter() - due)
            tally.statuses[status] += 1
            if status != 202:
                tally.pending[order_id].pop(second, None)
            if not waiting:
                idle.append(connection)
                return
            order_id, second, raw, due = waiting.popleft()

    ticker = asyncio.create_task(
        every_second(progress, lambda: f"posted {tally.posted}, shown {tally.seen}")
    )
    started = time.perf_counter()
    for n in range(options.total):
        delay = started + n / options.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        parcel = parcels[n % len(parcels)]
        at = LIVE_FROM + timedelta(seconds=n)
        raw = scan_webhook(parcel, n, at, run, secret, port)
        tally.posted += 1
        item = (parcel.order_id, int(at.timestamp()), raw, time.perf_counter())
        if idle:
            task = asyncio.create_task(post(idle.popleft(), *item))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            waiting.append(item)
    sending_s = time.perf_counter() - started
    while tasks:
        await asyncio.gather(*tasks)
    accepted = tally.statuses.get(202, 0)
    await until(lambda: tally.seen >= accepted, options.drain_s)
    ticker.cancel()
    for socket in sockets:
        socket.close()
    for connection in idle:
        connection.close()
    return {
        "scenario": "latency",
        "orders": len(parcels),
        "websockets": len(sockets),
        "target_rate": options.rate,
        "batch_timeout_s": settings.kafka.batch_timeout_s,
        "direct_linked_scans": settings.kafka.direct_linked_scans,
        "posted": tally.posted,
        "accepted": accepted,
        "rejected": tally.posted - accepted,
        "achieved_rate": round(tally.posted / sending_s, 1),
        "shown": tally.seen,
        "lost": accepted - tally.seen,
        **percentiles(tally.latencies),
        **percentiles(tally.post_latencies, "post_"),
    }


def run(options: LatencyOptions, progress: Progress) -> dict[str, Any]:
    import uvloop

    with (
        stack.embedded(
            batch_timeout_s=options.batch_timeout_s,
            direct_linked_scans=options.direct_linked_scans,
        ) as bench,
        stack.running(bench, ("normalise", "timeline", "api")),
    ):
        progress(f"folding {options.orders} orders through the worker")
        parcels = asyncio.run(setup_parcels(bench.settings, options.orders))
        progress(f"{len(parcels)} parcels linked; {options.total} scans at {options.rate:g}/s")
        return uvloop.run(_load(bench.settings, options, parcels, progress))
