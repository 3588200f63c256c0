"""The senders against real local servers: an aiosmtpd SMTP server whose received MIME is parsed,
aiohttp endpoints that verify Standard Webhooks signatures with the official library, answer 429,
410 or too late, and a Twilio-shaped SMS endpoint."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import email.utils
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from carriers.standard_webhooks import sign
from projections.notify.model import Message, NotifyChannel, Subscription
from projections.notify.subscriptions import new_secret
from streams.notify.senders import (
    ChatSender,
    EmailSender,
    SmsSender,
    WebhookSender,
    compose_email,
    signature,
)
from wismo.settings import NotifySettings

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _message(
    channel: NotifyChannel = NotifyChannel.EMAIL,
    recipient: str = "customer1@example.com",
    key: str = "ORD-1:shipped:email:customer1@example.com",
) -> Message:
    return Message(
        key=key,
        order_id="ORD-1",
        channel=channel,
        recipient=recipient,
        kind="shipped",
        subject="ORD-1",
        payload={},
        triggered_at=T,
        due_at=T,
    )


# ---------------------------------------------------------------------------------------------
# SMTP


class Collector:
    """An aiosmtpd handler that keeps what it received; refuses recipients on request."""

    def __init__(self) -> None:
        self.received: list[tuple[Envelope, EmailMessage]] = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope, parsed))
        return "250 Message accepted"


@pytest.fixture
async def smtp_server() -> AsyncIterator[tuple[Collector, int, list[int]]]:
    """A real SMTP server on a free port; also counts the connections it accepted."""
    loop = asyncio.get_running_loop()
    collector = Collector()
    connections: list[int] = []

    def factory() -> SMTP:
        connections.append(1)
        return SMTP(collector, hostname="test-sink", loop=loop)

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield collector, port, connections
    finally:
        server.close()
        await server.wait_closed()


def _email_settings(port: int, **more: Any) -> NotifySettings:
    return NotifySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_connections=2, **more)


RENDERED = Rendered(
    "Your order has shipped", "It is on its way.", "<p>It is <b>on its way</b>.</p>"
)
UNSUBSCRIBE = {
    "List-Unsubscribe": "<http://127.0.0.1:8080/unsubscribe?t=abc>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


async def test_an_email_is_multipart_alternative_with_a_stable_message_id(
    smtp_server: tuple[Collector, int, list[int]],
) -> None:
    collector, port, connections = smtp_server
    sender = EmailSender(_email_settings(port))
    try:
        first = await sender.send(_message(), RENDERED, UNSUBSCRIBE)
        again = await sender.send(_message(), RENDERED, UNSUBSCRIBE)
        other = await sender.send(_message(key="ORD-1:delivered:email:x"), RENDERED, UNSUBSCRIBE)
    finally:
        await sender.close()
    assert first.ok
    assert again.ok
    assert other.ok
    assert first.status_code == 250
    assert first.permanent is False
    assert len(collector.received) == 3
    (envelope, mail), (_, resent), (_, different) = collector.received
    assert envelope.mail_from == "deliveries@wismo.localhost"
    assert envelope.rcpt_tos == ["customer1@example.com"]
    assert mail.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in mail.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "It is on its way."
    assert "<b>on its way</b>" in html.get_content()
    assert mail["Subject"] == "Your order has shipped"
    assert mail["From"] == "Deliveries <deliveries@wismo.localhost>"
    assert mail["To"] == "customer1@example.com"
    assert mail["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the same message sent again (a crash between sending and recording) has the same id
    message_id = f"<{_message().message_id}@wismo.localhost>"
    assert mail["Message-ID"] == resent["Message-ID"] == message_id == first.provider_id
    assert different["Message-ID"] != message_id
    # one connection carried all three (pooled, reused)
    assert len(connections) == 1


async def test_the_pool_opens_at_most_smtp_connections(
    smtp_server: tuple[Collector, int, list[int]],
) -> None:
    collector, port, connections = smtp_server
    sender = EmailSender(_email_settings(port))
    try:
        results = await asyncio.gather(
            *(sender.send(_message(key=f"k{n}"), RENDERED, {}) for n in range(12))
        )
    finally:
        await sender.close()
    assert all(r.ok for r in results)
    assert len(collector.received) == 12
    assert len(connections) == 2


async def test_smtp_5xx_is_permanent_4xx_is_retried(
    smtp_server: tuple[Collector, int, list[int]],
) -> None:
    collector, port, _ = smtp_server
    collector.refuse = {
        "gone@example.com": "550 5.1.1 No such user",
        "full@example.com": "452 4.2.2 Mailbox full",
    }
    sender = EmailSender(_email_settings(port))
    try:
        gone = await sender.send(_message(recipient="gone@example.com"), RENDERED, {})
        full = await sender.send(_message(recipient="full@example.com"), RENDERED, {})
        fine = await sender.send(_message(), RENDERED, {})  # the connection is still usable
    finally:
        await sender.close()
    assert (gone.ok, gone.permanent, gone.status_code) == (False, True, 550)
    assert (full.ok, full.permanent, full.status_code) == (False, False, 452)
    assert gone.error is not None
    assert "No such user" in gone.error
    assert fine.ok
    assert len(collector.received) == 1


async def test_a_dead_smtp_server_is_a_retry_and_the_pool_reconnects() -> None:
    loop = asyncio.get_running_loop()
    collector = Collector()
    sessions: list[SMTP] = []

    def factory() -> SMTP:
        sessions.append(SMTP(collector, hostname="test-sink", loop=loop))
        return sessions[-1]

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(_email_settings(port, request_timeout_s=2.0))
    try:
        assert (await sender.send(_message(), RENDERED, {})).ok
        server.close()
        for smtp in sessions:
            if smtp.transport is not None:
                smtp.transport.close()
        await server.wait_closed()
        down = await sender.send(_message(), RENDERED, {})
        assert (down.ok, down.permanent, down.status_code) == (False, False, None)
        server = await loop.create_server(factory, "127.0.0.1", port)
        back = await sender.send(_message(), RENDERED, {})
        assert back.ok, back.error
    finally:
        await sender.close()
        server.close()
        await server.wait_closed()
    assert len(collector.received) == 2


# ---------------------------------------------------------------------------------------------
# HTTP endpoints

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[str, Handler], Awaitable[str]]]:
    """Start an aiohttp endpoint on a free port: ``url = await serve(path, handler)``."""
    runners: list[web.AppRunner] = []

    async def start(path: str, handler: Handler) -> str:
        app = web.Application()
        app.router.add_post(path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}{path}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _subscription(url: str, secrets: tuple[str, ...]) -> Subscription:
    return Subscription(
        id="sub_test",
        url=url,
        event_types=("shipment.milestone",),
        secrets=secrets,
        created_at=T,
        updated_at=T,
    )


async def test_webhooks_verify_with_either_secret_during_a_rotation(
    serve: Callable[[str, Handler], Awaitable[str]], session: aiohttp.ClientSession
) -> None:
    new, old = new_secret(), new_secret()
    seen: list[dict[str, Any]] = []

    async def receiver(request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        verdicts = {}
        for name, secret in (("new", new), ("old", old), ("other", new_secret())):
            try:
                verdicts[name] = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                verdicts[name] = None
        seen.append({"headers": headers, "verdicts": verdicts})
        return web.Response(status=204)

    url = await serve("/hooks", receiver)
    sender = WebhookSender(NotifySettings(), session)
    body = b'{"type":"shipment.milestone","data":{"order_id":"ORD-1"}}'
    message = _message(NotifyChannel.WEBHOOK, "sub_test", "ORD-1:shipped:webhook:sub_test")
    result = await sender.send(message, _subscription(url, (new, old)), body)
    assert result.ok
    assert result.status_code == 204
    assert result.error is None
    (delivery,) = seen
    payload = {"type": "shipment.milestone", "data": {"order_id": "ORD-1"}}
    assert delivery["verdicts"] == {"new": payload, "old": payload, "other": None}
    headers = delivery["headers"]
    assert headers["webhook-id"] == message.message_id
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("wismo")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert abs(int(headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60


async def test_429_is_retried_after_what_the_endpoint_asked(
    serve: Callable[[str, Handler], Awaitable[str]], session: aiohttp.ClientSession
) -> None:
    answers = iter([("17", 429), ("", 503), (None, 429)])

    async def busy(request: web.Request) -> web.Response:
        wait, status = next(answers)
        if wait is None:  # an HTTP date two minutes out
            later = datetime.now(UTC) + timedelta(minutes=2)
            wait = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
        headers = {"Retry-After": wait} if wait else {}
        return web.Response(status=status, text="slow down", headers=headers)

    url = await serve("/busy", busy)
    sender = WebhookSender(NotifySettings(), session)
    subscription = _subscription(url, (new_secret(),))
    message = _message(NotifyChannel.WEBHOOK, "sub_test")
    seconds = await sender.send(message, subscription, b"{}")
    assert (seconds.ok, seconds.permanent, seconds.status_code) == (False, False, 429)
    assert seconds.retry_after_s == 17.0
    assert seconds.error is not None
    assert "slow down" in seconds.error
    unavailable = await sender.send(message, subscription, b"{}")
    assert (unavailable.permanent, unavailable.retry_after_s) == (False, None)
    dated = await sender.send(message, subscription, b"{}")
    assert dated.retry_after_s is not None
    assert 100 < dated.retry_after_s <= 120


@pytest.mark.parametrize(
    ("status", "permanent"), [(410, True), (404, True), (400, True), (408, False), (500, False)]
)
async def test_gone_and_other_client_errors_are_permanent(
    serve: Callable[[str, Handler], Awaitable[str]],
    session: aiohttp.ClientSession,
    status: int,
    permanent: bool,
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status)

    url = await serve("/answer", answer)
    sender = WebhookSender(NotifySettings(), session)
    message = _message(NotifyChannel.WEBHOOK, "sub_test")
    result = await sender.send(message, _subscription(url, (new_secret(),)), b"{}")
    assert (result.ok, result.status_code, result.permanent) == (False, status, permanent)


async def test_a_timeout_is_retried_and_a_refused_connection_too(
    serve: Callable[[str, Handler], Awaitable[str]], session: aiohttp.ClientSession
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2.0)
        return web.Response(status=204)

    url = await serve("/slow", slow)
    sender = WebhookSender(NotifySettings(request_timeout_s=0.2), session)
    message = _message(NotifyChannel.WEBHOOK, "sub_test")
    late = await sender.send(message, _subscription(url, (new_secret(),)), b"{}")
    assert (late.ok, late.permanent, late.status_code, late.error) == (
        False,
        False,
        None,
        "timed out",
    )
    assert 150 < late.latency_ms < 1500
    closed = "http://127.0.0.1:9/nothing-listens"
    refused = await sender.send(message, _subscription(closed, (new_secret(),)), b"{}")
    assert (refused.ok, refused.permanent) == (False, False)


async def test_sms_posts_a_twilio_form_with_the_idempotency_token(
    serve: Callable[[str, Handler], Awaitable[str]], session: aiohttp.ClientSession
) -> None:
    got: list[tuple[dict[str, str], Any]] = []

    async def messages(request: web.Request) -> web.Response:
        form = await request.post()
        got.append((dict(request.headers), dict(form)))
        return web.json_response({"sid": "SM123", "status": "queued"}, status=201)

    url = await serve("/2010-04-01/Accounts/AC1/Messages.json", messages)
    settings = NotifySettings(sms_url=url, sms_account="AC1", sms_token=SecretStr("tok"))
    sender = SmsSender(settings, session)
    message = _message(NotifyChannel.SMS, "+447700900123", "ORD-1:shipped:sms:+447700900123")
    result = await sender.send(message, "Your order ORD-1 has shipped.")
    assert result.ok
    assert result.status_code == 201
    assert result.provider_id == "SM123"
    ((headers, form),) = got
    assert form == {
        "To": "+447700900123",
        "From": settings.sms_from,
        "Body": "Your order ORD-1 has shipped.",
    }
    assert headers["I-Twilio-Idempotency-Token"] == message.message_id
    assert headers["Authorization"] == aiohttp.encode_basic_auth("AC1", "tok")


async def test_chat_names_no_url_in_its_errors() -> None:
    token_url = "json://127.0.0.1:9/hook?secret-token-xyz"
    sender = ChatSender(NotifySettings(alert_urls=(SecretStr(token_url),)))
    try:
        rendered = Rendered("High severity exception", "Parcel lost", "")
        failed = await sender.send(_message(NotifyChannel.CHAT, "0"), rendered)
        missing = await sender.send(_message(NotifyChannel.CHAT, "3"), rendered)
    finally:
        await sender.close()
    assert not failed.ok
    assert not failed.permanent
    assert failed.error is not None
    assert "secret-token-xyz" not in failed.error
    assert missing.permanent
    assert missing.error is not None


async def test_chat_delivers_through_apprise(
    serve: Callable[[str, Handler], Awaitable[str]],
) -> None:
    got: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=200)

    url = await serve("/alert", hook)
    sender = ChatSender(NotifySettings(alert_urls=(SecretStr(url.replace("http", "json", 1)),)))
    try:
        rendered = Rendered("High severity exception", "Parcel lost in Leeds", "")
        result = await sender.send(_message(NotifyChannel.CHAT, "0"), rendered)
    finally:
        await sender.close()
    assert result.ok, result.error
    ((document,),) = [got]
    assert document["title"] == "High severity exception"
    assert document["message"] == "Parcel lost in Leeds"


# ---------------------------------------------------------------------------------------------
# the e-mail's bytes


def _parsed(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\x00"), max_size=400)


@given(subject=_TEXT, text=_TEXT, html=_TEXT, name=_TEXT)
def test_the_composed_email_parses_back_to_what_was_rendered(
    subject: str, text: str, html: str, name: str
) -> None:
    sender = email.utils.formataddr((name.replace("\n", " ")[:40], "news@shop.example"))
    message_id, raw = compose_email(_message(), Rendered(subject, text, html), UNSUBSCRIBE, sender)
    mail = _parsed(raw)
    assert mail.get_content_type() == "multipart/alternative"
    plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert rich is not None
    # on the wire every line ends in CRLF; a mailbox gives back the text's own line ends
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html
    assert str(mail["Subject"]) == " ".join(subject.split())
    assert email.utils.parseaddr(str(mail["From"]))[1] == "news@shop.example"
    assert mail["Message-ID"] == message_id
    assert mail["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_header_values_cannot_add_headers() -> None:
    evil = {"List-Unsubscribe": "<http://x>\r\nBcc: everyone@example.com"}
    _, raw = compose_email(_message(), Rendered("Hi\nBcc: a@b.c", "t", "h"), evil, "a@b.c")
    mail = _parsed(raw)
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Hi Bcc: a@b.c"


async def test_non_ascii_and_dot_lines_survive_the_smtp_conversation(
    smtp_server: tuple[Collector, int, list[int]],
) -> None:
    collector, port, _ = smtp_server
    settings = _email_settings(port, sender="Lieferungen Müller <lieferung@müller.example>")
    rendered = Rendered("Ihr Paket ist unterwegs: 🚚", ".\n..\nZeile\n", "<p>Grüße</p>\n.")
    sender = EmailSender(settings)
    try:
        result = await sender.send(_message(recipient="kunde@example.com"), rendered, {})
    finally:
        await sender.close()
    assert result.ok, result.error
    ((_, mail),) = collector.received
    assert mail["Subject"] == "Ihr Paket ist unterwegs: 🚚"
    name, address = email.utils.parseaddr(str(mail["From"]))
    assert (name, address) == ("Lieferungen Müller", "lieferung@xn--mller-kva.example")
    assert str(mail["Message-ID"]).endswith("@xn--mller-kva.example>")
    plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content() == ".\r\n..\r\nZeile\r\n"
    assert rich.get_content() == "<p>Grüße</p>\r\n."


@given(
    secrets=st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=3),
    body=st.binary(max_size=200),
    timestamp=st.integers(0, 2**40),
)
def test_the_signature_is_one_sign_entry_per_secret(
    secrets: list[bytes], body: bytes, timestamp: int
) -> None:
    import base64

    written = ["whsec_" + base64.b64encode(key).decode() for key in secrets]
    expected = " ".join(sign(secret, "msg_1", timestamp, body) for secret in written)
    assert signature(written, "msg_1", timestamp, body) == expected
    assert signature(written, "msg_1", timestamp, body) == expected  # the prepared keys again


async def test_an_idle_connection_the_server_dropped_is_replaced_at_once() -> None:
    loop = asyncio.get_running_loop()
    collector = Collector()
    sessions: list[SMTP] = []

    def factory() -> SMTP:
        sessions.append(SMTP(collector, hostname="test-sink", loop=loop))
        return sessions[-1]

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = EmailSender(_email_settings(port))
    try:
        assert (await sender.send(_message(), RENDERED, {})).ok
        for smtp in sessions:  # the server's idle timeout
            if smtp.transport is not None:
                smtp.transport.close()
        await asyncio.sleep(0.05)
        again = await sender.send(_message(), RENDERED, {})
        assert again.ok, again.error
    finally:
        await sender.close()
        server.close()
        await server.wait_closed()
    assert len(collector.received) == 2
    assert len(sessions) == 2


def test_plain_ascii_goes_as_it_is_and_anything_else_in_quoted_printable() -> None:
    boundary = f"=_{_message().message_id}"
    cases = {
        "Your parcel is on its way.\n": "7bit",
        "x" * 999: "quoted-printable",  # longer than a line may be
        "Grüße\n": "quoted-printable",
        f"--{boundary}\nsneaky\n": "quoted-printable",
    }
    for text, encoding in cases.items():
        _, raw = compose_email(_message(), Rendered("s", text, "<p>ok</p>"), {}, "a@b.c")
        plain = _parsed(raw).get_body(("plain",))
        assert plain is not None
        assert plain["Content-Transfer-Encoding"] == encoding, text
        assert plain.get_content().replace("\r\n", "\n") == text


async def test_a_brands_from_header_is_the_emails_from_and_envelope_sender(
    smtp_server: tuple[Collector, int, list[int]],
) -> None:
    collector, port, _ = smtp_server
    sender = EmailSender(_email_settings(port))
    brand_from = "Kaffeehaus Berg <versand@kaffeeberg.example>"
    try:
        branded = await sender.send(_message(), RENDERED, UNSUBSCRIBE | {"From": brand_from})
        plain = await sender.send(_message(), RENDERED, UNSUBSCRIBE)
    finally:
        await sender.close()
    assert branded.ok
    assert plain.ok
    (first_envelope, first), (second_envelope, second) = collector.received
    assert first_envelope.mail_from == "versand@kaffeeberg.example"
    assert first["From"] == brand_from
    assert len(first.get_all("From") or []) == 1
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["Message-ID"].endswith("@kaffeeberg.example>")
    assert second_envelope.mail_from == "deliveries@wismo.localhost"
    assert second["From"] == NotifySettings().sender


async def test_an_sms_goes_from_the_number_its_brand_names(
    serve: Callable[[str, Handler], Awaitable[str]], session: aiohttp.ClientSession
) -> None:
    forms: list[Any] = []

    async def messages(request: web.Request) -> web.Response:
        forms.append(dict(await request.post()))
        return web.json_response({"sid": "SM1"}, status=201)

    url = await serve("/Messages.json", messages)
    settings = NotifySettings(sms_url=url)
    numbers = {"kaffeeberg": "+4930999"}
    sender = SmsSender(
        settings, session, lambda m: numbers.get(m.payload.get("brand") or "", settings.sms_from)
    )
    plain = _message(NotifyChannel.SMS, "+447700900123", "k1")
    branded = dataclasses.replace(plain, key="k2", payload={"brand": "kaffeeberg"})
    assert (await sender.send(branded, "Hallo")).ok
    assert (await sender.send(plain, "Hello")).ok
    assert [form["From"] for form in forms] == ["+4930999", settings.sms_from]
