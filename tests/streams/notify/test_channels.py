"""SMS and team-chat messages through the dispatcher with the real senders, to local aiohttp
servers: an SMS re-sent after its worker died carries the same idempotency token (the provider
drops the repeat), an SMS provider refusing a number is not an outage, a chat alert goes to its
apprise target."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import Message, MessageState, NotifyChannel
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.dispatch import Dispatcher, Outcome, Senders
from streams.notify.senders import SMS_IDEMPOTENCY_HEADER, ChatSender, SmsSender
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.streams.notify.harness import T0, PlainRenderer
from wismo.settings import NotifySettings


@dataclass
class Provider:
    """A Twilio-style Messages endpoint that drops repeats of an idempotency token, and a
    JSON chat hook, on 127.0.0.1."""

    tokens: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    base: str = ""

    async def sms(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = request.headers[SMS_IDEMPOTENCY_HEADER]
        if str(form["To"]) in self.refuse:
            return web.json_response({"message": "not a mobile number"}, status=400)
        self.tokens[token] += 1
        if self.tokens[token] == 1:
            self.texts.append(str(form["Body"]))
        return web.json_response({"sid": f"SM{token[-8:]}"}, status=201)

    async def chat(self, request: web.Request) -> web.Response:
        self.alerts.append(await request.json())
        return web.json_response({})


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    found = Provider()
    app = web.Application()
    app.router.add_post("/Messages.json", found.sms)
    app.router.add_post("/chat", found.chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.base = f"127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield found
    finally:
        await runner.cleanup()


@pytest.fixture
async def ledger() -> AsyncIterator[Ledger]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield Ledger(client, prefix)
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


def sms(order: str, number: str, after_ms: int = 0) -> Message:
    return Message(
        key=f"{order}|shipped:S1|sms|{number}",
        order_id=order,
        channel=NotifyChannel.SMS,
        recipient=number,
        kind="shipped",
        subject="S1",
        payload={},
        triggered_at=T0,
        due_at=datetime.now(UTC) + timedelta(milliseconds=after_ms),
    )


async def test_an_sms_resent_after_a_crash_carries_the_same_token(
    provider: Provider, ledger: Ledger
) -> None:
    settings = NotifySettings(
        sms_url=f"http://{provider.base}/Messages.json", breaker_failures=1, endpoint_concurrency=1
    )
    # the refused number is due first: one send at a time, it goes before the others
    refused = sms("O3", "+1")
    fine, crashed = sms("O1", "+15005550001", 5), sms("O2", "+15005550002", 10)
    provider.refuse.add(refused.recipient)
    for message in (refused, fine, crashed):
        await ledger.commit_plan(message.order_id, SimplePlan([message]), datetime.now(UTC))
    # a worker sent ``crashed`` and died before writing down the answer
    async with aiohttp.ClientSession() as session:
        sender = SmsSender(settings, session)
        await sender.send(crashed, "first try")
        taken = await ledger.take(datetime.now(UTC) + timedelta(seconds=1), 10, 0.01)
        (lost,) = [e for e in taken if e.message_id == crashed.message_id]
        assert await ledger.mark_sending(lost.message_id, 1, datetime.now(UTC), lease=lost.lease)
        for message in (refused, fine):  # the others were not taken: back to their due times
            await ledger.reschedule(message.message_id, message.due_at, datetime.now(UTC))
        dispatcher = Dispatcher(
            ledger,
            settings,
            Senders(sms=sender),
            SubscriptionStore(ledger.client, "unused"),
            PlainRenderer(),
            clock=lambda: datetime.now(UTC),
        )
        report = await dispatcher.dispatch(datetime.now(UTC).replace(year=2100))
    assert report.outcomes[Outcome.SENT] == 2
    assert report.outcomes[Outcome.FAILED] == 1
    assert provider.tokens[crashed.message_id] == 2  # sent twice, under one token
    assert sorted(provider.texts) == ["first try", "shipped S1"]
    states = {m.message_id: await ledger.get(m.message_id) for m in (fine, crashed, refused)}
    assert {i: (e.state if e else None) for i, e in states.items()} == {
        fine.message_id: MessageState.SENT,
        crashed.message_id: MessageState.SENT,
        refused.message_id: MessageState.FAILED,
    }
    crashed_entry = states[crashed.message_id]
    assert crashed_entry is not None
    assert crashed_entry.attempts == 2
    # one refused number (breaker_failures=1) did not open the provider's breaker
    assert report.outcomes[Outcome.WAITING] == 0


async def test_an_alert_reaches_its_chat_target(provider: Provider, ledger: Ledger) -> None:
    settings = NotifySettings(alert_urls=(SecretStr(f"json://{provider.base}/chat"),))
    alert = Message(
        key="O1|alert:EX-1|chat|0",
        order_id="O1",
        channel=NotifyChannel.CHAT,
        recipient="0",
        kind="alert",
        subject="EX-1",
        payload={},
        triggered_at=T0,
        due_at=datetime.now(UTC),
    )
    await ledger.commit_plan("O1", SimplePlan([alert]), datetime.now(UTC))
    dispatcher = Dispatcher(
        ledger,
        settings,
        Senders(chat=ChatSender(settings)),
        SubscriptionStore(ledger.client, "unused"),
        PlainRenderer(),
    )
    report = await dispatcher.dispatch()
    assert report.outcomes[Outcome.SENT] == 1
    (posted,) = provider.alerts
    assert posted["title"] == "alert"
    assert posted["message"] == "EX-1"
