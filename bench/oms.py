"""A simulated OMS for ``wismo up``: it answers the customers' cancel requests.

wismo tells an OMS about a cancel request with an outbound webhook (``cancel.requested``,
Standard Webhooks-signed with the subscription's secret); a real OMS stops the lines if it still
can and answers on its own webhook source, ``oms``, with ``cancel.confirmed`` or
``cancel.rejected`` (docs/integrations.md). This one does the same on 127.0.0.1: it receives
the webhook at ``POST /webhooks/wismo``, checks the signature, and ``delay_s`` later posts a
signed ``oms`` webhook to the API — rejected when a requested line is already in a fulfilment
order or shipped (it reads the order's timeline), confirmed otherwise. So a cancel request made
on ``/track`` in ``wismo up`` resolves by itself.

:func:`cancel_asked` and :func:`answer_for` are pure; :class:`SimulatedOms` is the server and
:func:`start_simulated_oms` runs it on an event loop of its own in a daemon thread, beside the
roles ``wismo up`` runs in the main thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from bench.webhooks import Post
from carriers.standard_webhooks import verify
from projections.timeline_model import Timeline

log = logging.getLogger(__name__)

PATH = "/webhooks/wismo"
#: the description that marks the subscription ``wismo up`` keeps for the simulated OMS
DESCRIPTION = "simulated OMS: answers cancel requests (kept by wismo up)"
EVENT_TYPES = ("cancel.requested",)
DELAY_S = 3.0

#: the order's timeline, if wismo has one
Timelines = Callable[[str], Awaitable[Timeline | None]]
#: post one signed delivery to wismo's ``oms`` webhook source
Deliver = Callable[[Post], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class CancelAsked:
    order_id: str
    request_id: str
    lines: dict[str, int]


def cancel_asked(body: bytes) -> CancelAsked | None:
    """The cancel request a ``cancel.requested`` webhook body names (None: another type, or not
    one that can be answered)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or document.get("type") != "cancel.requested":
        return None
    data = document.get("data")
    if not isinstance(data, dict):
        return None
    nested = data.get("cancel")
    cancel: dict[str, Any] = nested if isinstance(nested, dict) else data
    order_id, request_id = data.get("order_id"), cancel.get("request_id")
    if not isinstance(order_id, str) or not isinstance(request_id, str):
        return None
    return CancelAsked(order_id, request_id, _lines(cancel.get("lines")))


def _lines(value: Any) -> dict[str, int]:
    """``{"L1": 2}`` or ``[{"line_id": "L1", "quantity": 2}]``."""
    if isinstance(value, dict):
        return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}
    if isinstance(value, list):
        return {
            str(line["line_id"]): int(line.get("quantity", 1))
            for line in value
            if isinstance(line, dict) and "line_id" in line
        }
    return {}


def answer_for(asked: CancelAsked, timeline: Timeline | None, now: datetime) -> dict[str, Any]:
    """The OMS's answer, as the canonical event its ``oms`` webhook carries."""
    busy = _in_fulfilment(timeline) if timeline is not None else set()
    taken = sorted(line for line in asked.lines if line in busy)
    if taken:
        kind, note = "cancel.rejected", f"already in fulfilment or shipped: {', '.join(taken)}"
    else:
        kind, note = "cancel.confirmed", "cancelled before fulfilment"
    payload: dict[str, Any] = {"request_id": asked.request_id, "note": note}
    if asked.lines:
        payload["lines"] = [{"line_id": k, "quantity": q} for k, q in sorted(asked.lines.items())]
    return {
        "event_id": f"oms-sim:{asked.request_id}:{kind}",
        "kind": kind,
        "order_id": asked.order_id,
        "occurred_at": now.isoformat(),
        "payload": payload,
    }


def _in_fulfilment(timeline: Timeline) -> set[str]:
    lines = {line.line_id for line in timeline.lines if line.shipped_quantity > 0}
    for order in timeline.fulfilment_orders:
        lines |= {line for line, quantity in order.lines.items() if quantity > 0}
    for shipment in timeline.shipments:
        lines |= {line for line, quantity in shipment.lines.items() if quantity > 0}
    return lines


@dataclass
class SimulatedOms:
    """The OMS's webhook endpoint: verify, then answer each cancel request once, later."""

    timelines: Timelines
    deliver: Deliver
    delay_s: float = DELAY_S
    secrets: tuple[str, ...] = ()
    answered: dict[str, str] = field(default_factory=dict)  # request id -> answer kind
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PATH, self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers: Mapping[str, str] = {k.lower(): v for k, v in request.headers.items()}
        problem = verify(body, headers, self.secrets, datetime.now(UTC)) if self.secrets else None
        if not self.secrets or problem is not None:
            return web.json_response({"error": "unsigned or wrongly signed"}, status=401)
        asked = cancel_asked(body)
        if asked is not None and asked.request_id not in self.answered:
            self.answered[asked.request_id] = "pending"
            task = asyncio.get_running_loop().create_task(self._answer(asked))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=204)

    async def _answer(self, asked: CancelAsked) -> None:
        await asyncio.sleep(self.delay_s)
        event = answer_for(asked, await self.timelines(asked.order_id), datetime.now(UTC))
        post = Post("oms", orjson.dumps(event), f"oms-sim-{asked.request_id}", -1)
        status = await self.deliver(post)
        self.answered[asked.request_id] = event["kind"]
        log.info("simulated OMS answered %s: %s (HTTP %s)", asked.request_id, event["kind"], status)


@dataclass
class RunningOms:
    oms: SimulatedOms
    url: str
    loop: asyncio.AbstractEventLoop

    def trust(self, secrets: tuple[str, ...]) -> None:
        """Verify deliveries with the subscription's secrets from now on."""
        self.loop.call_soon_threadsafe(setattr, self.oms, "secrets", secrets)


def start_simulated_oms(oms: SimulatedOms, host: str = "127.0.0.1") -> RunningOms:
    """Serve ``oms`` on a free port of ``host`` from a daemon thread (it ends with the process)."""
    loop = asyncio.new_event_loop()

    async def serve() -> str:
        runner = web.AppRunner(oms.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, 0).start()
        return f"http://{host}:{runner.addresses[0][1]}{PATH}"

    threading.Thread(target=loop.run_forever, name="simulated-oms", daemon=True).start()
    url = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    return RunningOms(oms, url, loop)


def run_beside_wismo_up(settings: Any) -> RunningOms:
    """The simulated OMS for ``wismo up``'s API: it reads timelines from its Redis, answers on
    its ``oms`` source, and is subscribed to ``cancel.requested`` (one subscription, kept
    across runs, its URL kept current)."""
    from bench.simulate import send, source_secrets
    from projections.connections import redis_client
    from projections.exception_flow import timeline_from_json
    from projections.redis_store import RedisTimelineStore

    host = "127.0.0.1" if settings.api.host in ("0.0.0.0", "::", "") else settings.api.host
    base = f"http://{host}:{settings.api.port}"
    stores: list[RedisTimelineStore] = []

    async def timelines(order_id: str) -> Timeline | None:
        if not stores:
            stores.append(
                RedisTimelineStore(await redis_client(settings), settings.redis.key_prefix)
            )
        raw = await stores[0].timeline(order_id)
        return None if raw is None else timeline_from_json(raw)

    async def deliver(post: Post) -> int:
        outcome = await send(base, [post], rate=0, secrets=source_secrets(settings))
        return next(iter(outcome.statuses), 0)

    running = start_simulated_oms(SimulatedOms(timelines, deliver))
    running.trust(asyncio.run(_subscription(settings, running.url)))
    return running


async def _subscription(settings: Any, url: str) -> tuple[str, ...]:
    """The secrets of the simulated OMS's subscription (made once, its URL kept current)."""
    from projections.connections import redis_client
    from projections.notify.subscriptions import SubscriptionStore

    client = await redis_client(settings)
    try:
        store = SubscriptionStore(client, settings.redis.key_prefix)
        made = await store.ensure(DESCRIPTION, url, EVENT_TYPES, now=datetime.now(UTC))
        return made.secrets
    finally:
        await client.aclose()
