"""A planned customer e-mail through the dispatcher, the packaged templates and the real SMTP
sender to a local aiosmtpd server: one multipart message with its stable Message-ID and the
one-click unsubscribe headers, recorded as sent."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP, Envelope, Session

from projections.notify.ledger import Ledger
from projections.notify.model import MessageState, NotifyChannel, Preferences
from projections.notify.plan import plan_order
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.dispatch import Dispatcher, Senders, TemplateRenderer
from streams.notify.records import decode_record
from streams.notify.senders import EmailSender
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.projections.notify.journeys import CONTACTS, example
from wismo.settings import NotifySettings


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        return "250 Message accepted"


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, int]]:
    loop = asyncio.get_running_loop()
    box = Inbox()
    server = await loop.create_server(lambda: SMTP(box, hostname="sink", loop=loop), "127.0.0.1", 0)
    try:
        yield box, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_shipped_email_goes_out_once_with_its_headers(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    settings = NotifySettings(
        smtp_host="127.0.0.1", smtp_port=port, quiet_start_hour=0, quiet_end_hour=0
    )
    sender = EmailSender(settings)
    try:
        ledger = Ledger(client, prefix)
        timeline = example("ups:1Z999AA10123456784:MP")
        now = timeline.last_event_at
        assert now is not None
        plan = plan_order(timeline, CONTACTS, Preferences(), {}, [], settings, now)
        # "shipped" is due now; "arriving soon" waits for the day before the expected date
        emails = [m for m in plan.messages if m.channel is NotifyChannel.EMAIL and m.due_at <= now]
        assert [m.kind for m in emails] == ["shipped"]
        await ledger.commit_plan("ORD-1001", plan, now)
        dispatcher = Dispatcher(
            ledger,
            settings,
            Senders(email=sender),
            SubscriptionStore(client, prefix),
            TemplateRenderer(settings),
            clock=lambda: now,
        )
        await dispatcher.dispatch()
        await dispatcher.dispatch()
        (mail,) = box.mails
        (message,) = emails
        assert mail["Message-ID"] == f"<{message.message_id}@wismo.localhost>"
        assert mail["To"] == message.recipient
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/v1/notify/unsubscribe?token=" in mail["List-Unsubscribe"]
        assert mail.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in mail.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        entry = await ledger.get(message.message_id)
        assert entry is not None
        assert (entry.state, entry.attempts, entry.status_code) == (MessageState.SENT, 1, 250)
        assert entry.provider_id == mail["Message-ID"]
        (record,) = [decode_record(r) for r in await ledger.take_records(now, 10, 5)]
        assert (record.message_id, record.state, record.attempts) == (
            message.message_id,
            MessageState.SENT,
            1,
        )
    finally:
        await sender.close()
        await drop_prefix(client, prefix)
        await client.aclose()
