"""The development sinks against the real senders and a real Redis: what arrives is in the outbox,
once; a re-send is flagged as a duplicate; echo deliveries are verified with the secrets the
sink knows (or finds on the subscriptions that target it)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from pydantic import SecretStr

from cli.runtime.embedded import EmbeddedServices, delete_prefix, read_services
from cli.runtime.sinks import DEV_SMS_ACCOUNT, DEV_SMS_TOKEN, Sinks, SinksThread, message_id_in
from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import EVENT_TYPES, Message, NotifyChannel, Subscription
from projections.notify.outbox import Outbox, planned
from projections.notify.subscriptions import SubscriptionStore, new_secret
from streams.notify.senders import EmailSender, SmsSender, WebhookSender
from tests.projections.conftest import REDIS_URL, drop_prefix
from wismo.settings import KafkaSettings, NotifySettings, RedisSettings, Settings

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _message(channel: NotifyChannel, recipient: str, key: str) -> Message:
    return Message(key, "ORD-7", channel, recipient, "shipped", "ORD-7", {}, T, T)


@pytest.fixture
def prefix() -> str:
    return f"wismo-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def client(prefix: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield redis
    finally:
        await drop_prefix(redis, prefix)
        await redis.aclose()


@pytest.fixture
async def outbox(client: aioredis.Redis, prefix: str) -> Outbox:
    return Outbox(client, prefix)


@pytest.fixture
async def sinks(outbox: Outbox) -> AsyncIterator[Sinks]:
    running = Sinks(outbox)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def _settings(sinks: Sinks) -> NotifySettings:
    return NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=sinks.smtp_port,
        sms_url=sinks.sms_url(),
        sms_account=DEV_SMS_ACCOUNT,
        sms_token=SecretStr(DEV_SMS_TOKEN),
    )


async def test_the_smtp_sink_keeps_each_email_once(sinks: Sinks, outbox: Outbox) -> None:
    sender = EmailSender(_settings(sinks))
    message = _message(NotifyChannel.EMAIL, "c7@example.com", "ORD-7:shipped:email:c7")
    rendered = Rendered("Shipped", "On its way.", "<p>On its <i>way</i>.</p>")
    headers = {"List-Unsubscribe": "<http://127.0.0.1:8080/u?t=x>"}
    try:
        assert (await sender.send(message, rendered, headers)).ok
        assert (await sender.send(message, rendered, headers)).ok  # a re-send after a crash
    finally:
        await sender.close()
    again, first = await outbox.recent(10)
    assert first["kind"] == "email"
    assert first["to"] == "c7@example.com"
    assert first["subject"] == "Shipped"
    assert first["text"].strip() == "On its way."
    assert "<i>way</i>" in first["html"]
    assert first["message_id"] == f"<{message.message_id}@wismo.localhost>"
    assert first["headers"]["List-Unsubscribe"] == headers["List-Unsubscribe"]
    assert first["duplicate"] is False
    assert again["duplicate"] is True
    assert again["message_id"] == first["message_id"]
    assert "text" not in again
    assert "html" not in again
    assert sinks.counts == {"email": 1, "duplicate": 1}


async def test_the_sms_sink_answers_like_twilio_and_dedups_on_the_token(
    sinks: Sinks, outbox: Outbox
) -> None:
    message = _message(NotifyChannel.SMS, "+447700900123", "ORD-7:shipped:sms:+447700900123")
    async with aiohttp.ClientSession() as session:
        sender = SmsSender(_settings(sinks), session)
        first = await sender.send(message, "ORD-7 has shipped.")
        again = await sender.send(message, "ORD-7 has shipped.")
        other = await sender.send(
            _message(NotifyChannel.SMS, "+447700900123", "ORD-7:delivered:sms"), "Delivered."
        )
        unauthenticated = await session.post(sinks.sms_url(), data={"To": "+1", "Body": "x"})
        assert unauthenticated.status == 401
    assert first.ok
    assert first.status_code == 201
    assert first.provider_id is not None
    assert first.provider_id.startswith("SM")
    assert again.provider_id == first.provider_id
    assert other.provider_id != first.provider_id
    items = await outbox.recent(10)
    assert [(i["kind"], i["duplicate"]) for i in items] == [
        ("sms", False),
        ("sms", True),
        ("sms", False),
    ]
    kept = items[2]
    assert (kept["to"], kept["text"], kept["message_id"]) == (
        "+447700900123",
        "ORD-7 has shipped.",
        message.message_id,
    )


def _subscription(url: str, secrets: tuple[str, ...]) -> Subscription:
    return Subscription(
        id="sub_echo", url=url, event_types=EVENT_TYPES, secrets=secrets, created_at=T, updated_at=T
    )


async def test_the_echo_receiver_verifies_and_dedups(sinks: Sinks, outbox: Outbox) -> None:
    known, unknown = new_secret(), new_secret()
    sinks.trust("known", [known])
    body = b'{"type":"shipment.milestone","data":{"order_id":"ORD-7"}}'
    message = _message(NotifyChannel.WEBHOOK, "sub_echo", "ORD-7:shipped:webhook:sub_echo")
    async with aiohttp.ClientSession() as session:
        sender = WebhookSender(NotifySettings(), session)
        rotation = _subscription(sinks.echo_url("known"), (unknown, known))
        assert (await sender.send(message, rotation, body)).status_code == 204
        assert (await sender.send(message, rotation, body)).ok  # a retry: same webhook-id
        forged = _subscription(sinks.echo_url("known"), (unknown,))
        other = _message(NotifyChannel.WEBHOOK, "sub_echo", "ORD-7:delivered:webhook:sub_echo")
        assert (await sender.send(other, forged, body)).ok
        stranger = _subscription(sinks.echo_url("stranger"), (unknown,))
        assert (await sender.send(message, stranger, body)).ok
    anonymous, bad, repeat, good = await outbox.recent(10)
    assert good["kind"] == "webhook"
    assert good["to"] == "known"
    assert good["subject"] == "shipment.milestone"
    assert good["body"] == body.decode()
    assert good["verified"] is True
    assert good["message_id"] == message.message_id
    assert good["headers"]["webhook-id"] == message.message_id
    assert (repeat["duplicate"], repeat["verified"]) == (True, True)
    assert (bad["duplicate"], bad["verified"]) == (False, False)
    assert (anonymous["to"], anonymous["verified"], anonymous["duplicate"]) == (
        "stranger",
        None,
        False,
    )


async def test_the_outbox_is_capped_and_cleared(client: aioredis.Redis, prefix: str) -> None:
    outbox = Outbox(client, prefix, cap=3)
    for n in range(5):
        await outbox.record({"kind": "sms", "n": n}, f"sms:{n}")
    assert [item["n"] for item in await outbox.recent(10)] == [4, 3, 2]
    assert [item["n"] for item in await outbox.recent(2)] == [4, 3]
    assert await outbox.recent(0) == []
    assert not await outbox.record({"kind": "sms", "n": 0}, "sms:0")
    await outbox.clear()
    assert await outbox.recent(10) == []
    assert await outbox.record({"kind": "sms", "n": 0}, "sms:0")  # forgotten with the rest


async def test_the_threaded_sinks_find_secrets_on_subscriptions(
    client: aioredis.Redis, prefix: str
) -> None:
    thread = SinksThread(REDIS_URL, prefix)
    running = await asyncio.to_thread(thread.start)
    try:
        store = SubscriptionStore(client, prefix)
        sub = await store.create(running.echo_url("demo"), EVENT_TYPES, now=datetime.now(UTC))
        message = _message(NotifyChannel.WEBHOOK, sub.id, f"ORD-7:shipped:webhook:{sub.id}")
        async with aiohttp.ClientSession() as session:
            result = await WebhookSender(NotifySettings(), session).send(message, sub, b"{}")
        assert result.ok
        (item,) = await Outbox(client, prefix).recent(5)
        assert (item["to"], item["verified"]) == ("demo", True)
    finally:
        await asyncio.to_thread(thread.stop)
    # the ports are free again, and a second start may take them back
    again = SinksThread(REDIS_URL, prefix, smtp_port=running.smtp_port, http_port=running.http_port)
    restarted = await asyncio.to_thread(again.start)
    try:
        assert (restarted.smtp_port, restarted.http_port) == (running.smtp_port, running.http_port)
    finally:
        await asyncio.to_thread(again.stop)


async def test_each_item_says_what_the_ledger_planned_under_its_id(
    client: aioredis.Redis, prefix: str
) -> None:
    """The threaded sinks (``wismo up``'s) look each received message id up in the ledger: the
    outbox then tells one milestone sent twice under two ids, not only one id sent twice."""
    sub = await SubscriptionStore(client, prefix).create(
        "http://127.0.0.1:9/echo/demo", EVENT_TYPES, now=datetime.now(UTC)
    )
    mail = _message(
        NotifyChannel.EMAIL, "C7@example.com", "ORD-7|shipped:SH-1|email|C7@example.com"
    )
    text = _message(NotifyChannel.SMS, "+447700900123", "ORD-7|delayed:exc_9|sms|+447700900123")
    hook = _message(NotifyChannel.WEBHOOK, sub.id, f"ORD-7|evt_0a1b|webhook|{sub.id}")
    unplanned = _message(NotifyChannel.EMAIL, "c7@example.com", "ORD-7|shipped:SH-2|email|c7")
    await Ledger(client, prefix).commit_plan("ORD-7", SimplePlan(messages=[mail, text, hook]), T)
    thread = SinksThread(REDIS_URL, prefix)
    running = await asyncio.to_thread(thread.start)
    try:
        settings = _settings(running)
        email_sender = EmailSender(settings)
        rendered = Rendered("Shipped", "On its way.", "<p>On its way.</p>")
        try:
            for message in (mail, unplanned, mail):
                assert (await email_sender.send(message, rendered, {})).ok
        finally:
            await email_sender.close()
        async with aiohttp.ClientSession() as session:
            assert (await SmsSender(settings, session).send(text, "Running late.")).ok
            target = sub.model_copy(update={"url": running.echo_url("demo")})
            assert (await WebhookSender(settings, session).send(hook, target, b"{}")).ok
    finally:
        await asyncio.to_thread(thread.stop)
    outbox = Outbox(client, prefix)
    (webhook,) = await outbox.recent(5, kind="webhook")
    (sms,) = await outbox.recent(5, kind="sms")
    again, other, first = await outbox.recent(5, kind="email")
    assert first["planned"] == {
        "order_id": "ORD-7",
        "milestone": "shipped:SH-1",
        "channel": "email",
        "recipient": "C7@example.com",
    }
    assert (again["duplicate"], again["planned"]) == (True, first["planned"])
    assert other["planned"] is None  # the ledger never planned it
    assert sms["planned"] == {
        "order_id": "ORD-7",
        "milestone": "delayed:exc_9",
        "channel": "sms",
        "recipient": "+447700900123",
    }
    assert webhook["planned"] == {
        "order_id": "ORD-7",
        "milestone": "evt_0a1b",
        "channel": "webhook",
        "recipient": sub.id,
    }


def test_planned_names_the_milestone_of_an_idempotency_key() -> None:
    assert planned(_message(NotifyChannel.SMS, "+1555", "ORD-7|agent:am_1|sms|+1555")) == {
        "order_id": "ORD-7",
        "milestone": "agent:am_1",
        "channel": "sms",
        "recipient": "+1555",
    }
    # a key of another shape is kept whole rather than cut wrongly
    odd = planned(_message(NotifyChannel.EMAIL, "c7@example.com", "ORD-7:shipped:email"))
    assert odd["milestone"] == "ORD-7:shipped:email"
    assert message_id_in("<msg_0123456789abcdef0123456789abcdef@shop.example>") == (
        "msg_0123456789abcdef0123456789abcdef"
    )
    assert message_id_in("a token of another sender") is None
    assert message_id_in(None) is None


def test_the_embedded_launcher_points_notify_at_the_sinks(tmp_path: Path, prefix: str) -> None:
    from cli.commands.up import DEMO_SUBSCRIPTION, _with_dev_notify

    requested = Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(bootstrap="kafka.example:9092"),
        redis=RedisSettings(url=REDIS_URL, key_prefix=prefix),
    )
    try:
        with EmbeddedServices(requested, dev_sinks=True) as services:
            assert services.sinks is not None
            notify = services.settings.notify
            assert (notify.smtp_host, notify.smtp_port) == ("127.0.0.1", services.sinks.smtp_port)
            assert notify.sms_url == services.sinks.sms_url(DEV_SMS_ACCOUNT)
            recorded = read_services(tmp_path)
            assert recorded["smtp_sink"] == f"127.0.0.1:{services.sinks.smtp_port}"
            assert recorded["http_sink"] == services.sinks.http_url
            settings, first = _with_dev_notify(services.settings, services)
            _, again = _with_dev_notify(services.settings, services)
            assert first is not None
            assert again == first  # one demo subscription, however often wismo up starts
            assert settings.notify.public_url == "http://127.0.0.1:8080"
            quiet = (settings.notify.quiet_start_hour, settings.notify.quiet_end_hour)
            assert quiet == (0, 0)  # no quiet hours in development unless configured
            assert settings.notify.sms_by_default
            ports = (services.sinks.smtp_port, services.sinks.http_port)
        with EmbeddedServices(requested, dev_sinks=True) as services:  # the same ports again
            assert services.sinks is not None
            assert (services.sinks.smtp_port, services.sinks.http_port) == ports
        configured = requested.model_copy(
            update={
                "notify": NotifySettings(smtp_host="mail.example", sms_url="https://sms.example")
            }
        )
        with EmbeddedServices(configured, dev_sinks=True) as services:
            assert services.settings.notify.smtp_host == "mail.example"
            assert services.settings.notify.sms_url == "https://sms.example"
        production = requested.model_copy(update={"environment": "prod"})
        with EmbeddedServices(production, dev_sinks=True) as services:
            assert services.sinks is None
            assert services.settings.notify.smtp_host is None
    finally:
        client = sync_redis.Redis.from_url(REDIS_URL)
        raw = client.hgetall(f"{prefix}:{{notify}}:subs")
        client.close()
        delete_prefix(REDIS_URL, prefix)
    (sub,) = [Subscription.model_validate_json(v) for v in raw.values()]
    assert sub.description == DEMO_SUBSCRIPTION
    assert sub.event_types == EVENT_TYPES
    assert sub.url.endswith("/echo/demo")


async def test_a_flood_of_one_kind_keeps_the_others(client: aioredis.Redis, prefix: str) -> None:
    outbox = Outbox(client, prefix, cap=3)
    await outbox.append({"kind": "email", "received_at": "2026-03-02T08:00:00+00:00", "n": 0})
    for n in range(1, 6):
        at = f"2026-03-02T08:00:0{n}+00:00"
        await outbox.append({"kind": "webhook", "received_at": at, "n": n})
    await outbox.append({"kind": "sms", "received_at": "2026-03-02T08:00:03.5+00:00", "n": 9})
    assert [item["n"] for item in await outbox.recent(10)] == [5, 4, 9, 3, 0]
    assert [item["n"] for item in await outbox.recent(2)] == [5, 4]
    assert [item["n"] for item in await outbox.recent(10, kind="email")] == [0]


@pytest.mark.parametrize("official", [True, False], ids=["standardwebhooks", "wismo's check"])
def test_echo_verification_with_and_without_the_official_library(
    official: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from cli.runtime.sinks import verify_webhook
    from streams.notify.senders import signed_headers

    if not official:
        monkeypatch.setitem(sys.modules, "standardwebhooks", None)  # import fails
    old, new = new_secret(), new_secret()
    headers = signed_headers("msg_1", [new, old], b'{"a":1}', int(time.time()))
    assert verify_webhook(b'{"a":1}', headers, [old])
    assert verify_webhook(b'{"a":1}', headers, [new_secret(), new])
    assert not verify_webhook(b'{"a":2}', headers, [old, new])
    assert not verify_webhook(b'{"a":1}', headers, [new_secret()])
