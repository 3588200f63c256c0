"""What the notify tests share: a real local webhook receiver, a plain renderer, messages."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from projections.notify.integrator import webhook_body
from projections.notify.model import Message, NotifyChannel
from projections.notify.unsubscribe import list_unsubscribe_headers
from streams.notify.dispatch import Text

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tzLTMyYnl0ZXM="


@dataclass
class Receiver:
    """An integrator's endpoint on 127.0.0.1: answers ``fail_status`` to the first ``failures``
    requests (or while ``down``), counts deliveries by ``webhook-id`` and requests in flight."""

    failures: int = 0
    fail_status: int = 503
    down: bool = False
    delay_s: float = 0.0
    requests: int = 0
    accepted: list[str] = field(default_factory=list)  # webhook-ids answered 2xx, in order
    seen: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, Mapping[str, str]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.read()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            webhook_id = request.headers["webhook-id"]
            self.seen[webhook_id] += 1
            if self.down or self.requests <= self.failures:
                return web.Response(status=self.fail_status, text="not now")
            self.accepted.append(webhook_id)
            self.bodies[webhook_id] = body
            self.headers[webhook_id] = dict(request.headers)
            return web.Response(status=204)
        finally:
            self.in_flight -= 1

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class PlainRenderer:
    """Renders without templates: enough to prove the dispatcher's behaviour."""

    def email(self, message: Message) -> tuple[Text, Mapping[str, str]]:
        text = Text(f"Your order: {message.kind}", f"{message.kind} {message.subject}", "<p>hi</p>")
        return text, list_unsubscribe_headers("http://127.0.0.1/v1/notify/unsubscribe?token=t")

    def sms(self, message: Message) -> str:
        return f"{message.kind} {message.subject}"

    def webhook(self, message: Message) -> bytes:
        return webhook_body(message)

    def alert(self, message: Message) -> Text:
        return Text(message.kind, message.subject)


T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def webhook_message(sub_id: str, order: str, version: int, *, now: datetime) -> Message:
    return Message(
        key=f"{order}|evt-{version}|webhook|{sub_id}",
        order_id=order,
        channel=NotifyChannel.WEBHOOK,
        recipient=sub_id,
        kind="order.status_changed",
        subject=order,
        payload={"event_id": f"evt-{version}", "data": {"order_id": order, "n": version}},
        triggered_at=T0,
        due_at=now,
        version=version,
    )


def email_message(order: str, kind: str, *, now: datetime, **extra: Any) -> Message:
    return Message(
        key=f"{order}|{kind}|email|ann@example.com",
        order_id=order,
        channel=NotifyChannel.EMAIL,
        recipient="ann@example.com",
        kind=kind,
        subject=extra.pop("subject", "S1"),
        payload=extra.pop("payload", {}),
        triggered_at=T0,
        due_at=now,
        **extra,
    )
