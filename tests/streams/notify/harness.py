"""What the notify tests share: a real local webhook receiver and SMTP server, a plain renderer,
messages."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from projections.connections import redis_client
from projections.notify.integrator import webhook_body
from projections.notify.model import Message, NotifyChannel, Subscription
from projections.notify.subscriptions import SubscriptionStore
from projections.notify.unsubscribe import list_unsubscribe_headers
from streams.notify.dispatch import Text
from wismo.settings import Settings
from wismo.topics import NOTIFICATIONS

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tzLTMyYnl0ZXM="
T = TypeVar("T")


@dataclass
class Receiver:
    """An integrator's endpoint on 127.0.0.1: answers ``fail_status`` to the first ``failures``
    requests (or while ``down``), counts deliveries by ``webhook-id`` and requests in flight.
    ``delivered`` keeps every delivery answered 2xx: its ``webhook-id``, the query string of the
    URL it came to (which subscription, when they differ by it) and its body."""

    failures: int = 0
    fail_status: int = 503
    down: bool = False
    delay_s: float = 0.0
    requests: int = 0
    accepted: list[str] = field(default_factory=list)  # webhook-ids answered 2xx, in order
    delivered: list[tuple[str, str, bytes]] = field(default_factory=list)
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
            self.delivered.append((webhook_id, request.query_string, body))
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


class Sink:
    """An SMTP server's handler (aiosmtpd) that takes ``delay_s`` per message and counts messages
    by ``Message-ID``; ``recipients`` keeps each one's envelope recipients."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.seen: Counter[str] = Counter()
        self.received = 0
        self.recipients: dict[str, list[str]] = {}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message_id = str(parsed["Message-ID"])
        self.seen[message_id] += 1
        self.received += 1
        self.recipients[message_id] = list(envelope.rcpt_tos)
        return "250 Message accepted"


class Servers:
    """A :class:`Receiver` and an SMTP server with a :class:`Sink`, on an event loop of their own
    in a thread, for tests that run the ``notify`` role in worker processes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.receiver = Receiver()
        self.sink = Sink()
        self.smtp_port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Servers:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        await self.receiver.start()
        loop = asyncio.get_running_loop()
        self.smtp = await loop.create_server(
            lambda: SMTP(self.sink, hostname="sink", loop=loop), "127.0.0.1", 0
        )
        self.smtp_port = self.smtp.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self.smtp.close()
        await self.smtp.wait_closed()
        await self.receiver.stop()

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def read(self, look: Callable[[], T]) -> T:
        """``look()`` run on the servers' loop: a consistent view while deliveries arrive."""

        async def run() -> T:
            return look()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def received(self) -> int:
        """Webhooks answered 2xx and e-mails accepted so far."""
        return self.read(lambda: len(self.receiver.accepted) + self.sink.received)

    def slow(self, webhook_s: float, email_s: float) -> None:
        """From now on, each webhook takes ``webhook_s`` and each e-mail ``email_s``."""

        def change() -> None:
            self.receiver.delay_s = webhook_s
            self.sink.delay_s = email_s

        self.read(change)


def notify_environment(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> None:
    """What a worker's ``notify`` role needs to send at once to ``servers``; set before the
    stack's settings are built (they read the environment and hand it to the workers)."""
    monkeypatch.setenv("WISMO_NOTIFY__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("WISMO_NOTIFY__SMTP_PORT", str(servers.smtp_port))
    monkeypatch.setenv("WISMO_NOTIFY__QUIET_START_HOUR", "0")  # no quiet hours: send now
    monkeypatch.setenv("WISMO_NOTIFY__QUIET_END_HOUR", "0")
    monkeypatch.setenv("WISMO_NOTIFY__STALE_AFTER_S", "0")  # the example order is from March


async def subscribe(settings: Settings, url: str) -> Subscription:
    """A webhook subscription to every event type, signed with :data:`SECRET`."""
    client = await redis_client(settings)
    try:
        store = SubscriptionStore(client, settings.redis.key_prefix)
        return await store.create(url, ["*"], secrets=[SECRET], now=datetime.now(UTC))
    finally:
        await client.aclose()


async def records(
    settings: Settings, enough: Callable[[list[bytes]], bool], timeout_s: float = 30.0
) -> list[bytes]:
    """Outcome records on the notifications topic, read from the start until ``enough`` of
    them (or ``timeout_s``)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(NOTIFICATIONS),
        bootstrap_servers=settings.kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        ends = asyncio.get_running_loop().time() + timeout_s
        while not enough(found) and asyncio.get_running_loop().time() < ends:
            batch = await consumer.getmany(timeout_ms=500)
            found += [m.value for messages in batch.values() for m in messages if m.value]
    finally:
        await consumer.stop()
    return found


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
