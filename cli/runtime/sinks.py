"""The development sinks ``wismo up`` starts when no real SMTP server or SMS provider is set.

- an SMTP sink (``aiosmtpd``): accepts every e-mail, parses its MIME and keeps subject, text,
  HTML and headers in the development outbox (:class:`projections.notify.outbox.Outbox`);
- an SMS sink shaped like Twilio's Messages API: ``POST /2010-04-01/Accounts/{sid}/Messages.json``
  with form fields ``To``, ``From``, ``Body`` answers ``201`` with a ``sid``; a repeat of an
  ``I-Twilio-Idempotency-Token`` gets the first answer's sid again, as Twilio does;
- an echo webhook receiver: ``POST /echo/{name}`` checks the Standard Webhooks signature (with
  the official ``standardwebhooks`` library when it is installed) against the secrets it knows
  for that endpoint, records whether it held, and answers ``204``.

Each sink flags a repeat of a message id (the e-mail's ``Message-ID``, the idempotency token,
``webhook-id``) as a duplicate instead of storing it twice, so the outbox shows whether anything
was sent twice. Given a way to look message ids up (``planned_for``; under ``wismo up``, the
notification ledger), each item also says what was planned under its id: order, milestone,
channel and recipient (``planned``), so that one milestone sent to one recipient under two ids
shows too. Without an outbox (the benchmark) the sinks only count.

:class:`Sinks` runs on the caller's event loop (tests, the benchmark's sink process);
:class:`SinksThread` runs it on a loop of its own in a daemon thread for ``wismo up``, whose
roles own the main thread. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import orjson
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from projections.notify.model import MESSAGE_ID
from projections.notify.outbox import Outbox, OutboxItem, planned

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
SMS_PATH = "/2010-04-01/Accounts/{account}/Messages.json"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
#: the demo account and token the SMS sink hands ``wismo up`` (it accepts any)
DEV_SMS_ACCOUNT = "ACdevelopment"
DEV_SMS_TOKEN = "development"
#: how much of a webhook body the outbox keeps
BODY_LIMIT = 64 * 1024
#: the webhook headers the outbox shows
_WEBHOOK_HEADERS = ("content-type", "user-agent", "webhook-id", "webhook-timestamp")
START_TIMEOUT_S = 10.0

#: the secrets of the subscriptions that target an echo URL
SecretsFor = Callable[[str], Awaitable[Sequence[str]]]
#: what was planned under a message id (an item's ``planned``), None when nothing is known
PlannedFor = Callable[[str], Awaitable[Mapping[str, str] | None]]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _item(kind: str, message_id: str | None, to: str, **fields: Any) -> OutboxItem:
    item: OutboxItem = {
        "kind": kind,
        "received_at": _now(),
        "message_id": message_id,
        "to": to,
        "subject": None,
        "text": None,
        "html": None,
        "headers": {},
        "body": None,
        "verified": None,
        "duplicate": False,
        "planned": None,
    }
    item.update(fields)
    return item


def message_id_in(value: str | None) -> str | None:
    """The message id in a received ``Message-ID`` (``<msg_…@domain>``), SMS idempotency token or
    ``webhook-id``."""
    found = MESSAGE_ID.search(value) if value else None
    return found.group(0) if found else None


def email_item(content: bytes, recipients: Sequence[str]) -> OutboxItem:
    """The outbox item of a received e-mail: its MIME parsed into subject, text and HTML."""
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    headers = {name: str(value) for name, value in parsed.items()}
    return _item(
        "email",
        str(parsed["Message-ID"]) if parsed["Message-ID"] else None,
        ", ".join(recipients) or str(parsed["To"] or ""),
        subject=str(parsed["Subject"] or ""),
        text=_content(text),
        html=_content(html),
        headers=headers,
    )


def _content(part: object) -> str | None:
    """A part's decoded text with the line ends a mailbox shows (LF, not the wire's CRLF)."""
    if not isinstance(part, EmailMessage):
        return None
    content = part.get_content()
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


def verify_webhook(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> bool:
    """Whether the Standard Webhooks signature holds under one of ``secrets``: checked by the
    official ``standardwebhooks`` library when installed, else by :mod:`carriers`' own check."""
    plain = {key.lower(): value for key, value in headers.items()}
    try:
        from standardwebhooks import Webhook, WebhookVerificationError
    except ImportError:
        from carriers.standard_webhooks import verify

        return verify(body, plain, list(secrets), datetime.now(UTC)) is None
    for secret in secrets:
        try:
            Webhook(secret).verify(body, plain)
        except (WebhookVerificationError, ValueError, RuntimeError):
            continue
        return True
    return False


class _SmtpHandler:
    """aiosmtpd's handler: every e-mail into the outbox (or only counted)."""

    def __init__(self, sinks: Sinks) -> None:
        self._sinks = sinks

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        if not isinstance(content, bytes):
            content = str(content or "").encode()
        await self._sinks._received_email(content, list(envelope.rcpt_tos))
        return "250 OK: kept in the development outbox"


class Sinks:
    """The three development sinks on the running loop: ``await start()``, ``await stop()``.

    ``outbox`` None: nothing is stored, the sinks only count (``counts``). ``secrets`` names
    the secrets of echo endpoints by name; ``secrets_for`` looks up those of an echo URL (the
    subscriptions that target it) when ``secrets`` does not name it; ``planned_for`` looks up
    what was planned under a message id (each item's ``planned``).
    """

    def __init__(
        self,
        outbox: Outbox | None,
        *,
        smtp_port: int = 0,
        http_port: int = 0,
        secrets: Mapping[str, Sequence[str]] | None = None,
        secrets_for: SecretsFor | None = None,
        planned_for: PlannedFor | None = None,
    ) -> None:
        self.outbox = outbox
        self.counts: Counter[str] = Counter()
        self._ports = (smtp_port, http_port)
        self._secrets = {name: tuple(values) for name, values in (secrets or {}).items()}
        self._secrets_for = secrets_for
        self._planned_for = planned_for
        self._sms_sids: dict[str, str] = {}
        self._smtp: asyncio.Server | None = None
        self._runner: web.AppRunner | None = None
        self.smtp_port = 0
        self.http_port = 0

    # addresses --------------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def sms_url(self, account: str = DEV_SMS_ACCOUNT) -> str:
        return self.http_url + SMS_PATH.format(account=account)

    def echo_url(self, name: str) -> str:
        return f"{self.http_url}/echo/{name}"

    def trust(self, name: str, secrets: Sequence[str]) -> None:
        """Verify deliveries to ``/echo/{name}`` with ``secrets`` from now on."""
        self._secrets[name] = tuple(secrets)

    # lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        handler = _SmtpHandler(self)

        def smtp() -> SMTP:
            return SMTP(handler, hostname="wismo-sink", ident="wismo development sink", loop=loop)

        self._smtp = await loop.create_server(smtp, HOST, self._ports[0])
        self.smtp_port = self._smtp.sockets[0].getsockname()[1]
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post(SMS_PATH.format(account="{account}"), self._sms)
        app.router.add_post("/echo/{name}", self._echo)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self._ports[1])
        await site.start()
        self.http_port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    # what arrives -----------------------------------------------------------------------------

    async def _keep(self, kind: str, item_of: Callable[[], OutboxItem], dedup: str | None) -> bool:
        """Record into the outbox (False: a duplicate); count only when there is none."""
        if self.outbox is None:
            self.counts[kind] += 1
            return True
        item = item_of()
        item["planned"] = await self._planned(item.get("message_id"))
        first = await self.outbox.record(item, dedup)
        self.counts[kind if first else "duplicate"] += 1
        return first

    async def _planned(self, received: str | None) -> dict[str, str] | None:
        """What was planned under the received message id (None: not known, or no lookup)."""
        message_id = message_id_in(received)
        if message_id is None or self._planned_for is None:
            return None
        try:
            found = await self._planned_for(message_id)
        except Exception:  # the outbox still keeps the message, without what it is about
            log.warning("could not look up message %s for the outbox", message_id, exc_info=True)
            return None
        return dict(found) if found is not None else None

    async def _received_email(self, content: bytes, recipients: list[str]) -> None:
        if self.outbox is None:
            self.counts["email"] += 1
            return
        item = email_item(content, recipients)
        dedup = f"email:{item['message_id']}" if item["message_id"] else None
        await self._keep("email", lambda: item, dedup)

    async def _sms(self, request: web.Request) -> web.Response:
        if "Authorization" not in request.headers:
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "status": 401}, status=401
            )
        form = await request.post()
        to, sender, body = (str(form.get(name, "")) for name in ("To", "From", "Body"))
        if not to or not body:
            problem = {"code": 21604, "message": "'To' and 'Body' are required", "status": 400}
            return web.json_response(problem, status=400)
        token = request.headers.get(IDEMPOTENCY_HEADER)
        seed = token or uuid.uuid4().hex
        sid = "SM" + hashlib.sha256(seed.encode()).hexdigest()[:32]

        def item() -> OutboxItem:
            headers = {"From": sender} | ({IDEMPOTENCY_HEADER: token} if token else {})
            return _item("sms", token, to, text=body, headers=headers, body=body)

        await self._keep("sms", item, f"sms:{token}" if token else None)
        answer = {
            "sid": sid,
            "account_sid": request.match_info["account"],
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "date_created": _now(),
        }
        return web.json_response(answer, status=201)

    async def _echo(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        if self.outbox is None:
            self.counts["webhook"] += 1
            return web.Response(status=204)
        headers = dict(request.headers)
        secrets = self._secrets.get(name)
        if secrets is None and self._secrets_for is not None:
            secrets = tuple(await self._secrets_for(self.echo_url(name)))
        verified = verify_webhook(body, headers, secrets) if secrets else None
        delivery_id = request.headers.get("webhook-id")

        def item() -> OutboxItem:
            shown = {k: v for k, v in headers.items() if k.lower() in _WEBHOOK_HEADERS}
            text = body[:BODY_LIMIT].decode(errors="replace")
            return _item(
                "webhook",
                delivery_id,
                name,
                subject=_event_type(body),
                headers=shown,
                body=text,
                verified=verified,
            )

        dedup = f"webhook:{name}:{delivery_id}" if delivery_id else None
        await self._keep("webhook", item, dedup)
        return web.Response(status=204)


def _event_type(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = document.get("type") if isinstance(document, dict) else None
    return str(value) if value is not None else None


class SinksThread:
    """:class:`Sinks` on an event loop of its own, in a daemon thread (``wismo up``).

    The outbox is in the Redis at ``redis_url`` under ``prefix``; an echo endpoint's secrets are
    those of the webhook subscriptions whose URL it is. ``start()`` returns once both ports
    listen (a requested port that is taken makes it pick a free one).
    """

    def __init__(
        self, redis_url: str, prefix: str, *, smtp_port: int = 0, http_port: int = 0
    ) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self._ports = (smtp_port, http_port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.sinks: Sinks | None = None

    def start(self) -> Sinks:
        self._thread = threading.Thread(target=self._run, name="dev-sinks", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the development sinks did not start in {START_TIMEOUT_S:.0f}s")
        if self._failure is not None:
            raise RuntimeError(f"the development sinks did not start: {self._failure}")
        assert self.sinks is not None
        return self.sinks

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S)
            self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread ends either way
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        import redis.asyncio as aioredis

        from projections.notify.ledger import Ledger
        from projections.notify.subscriptions import SubscriptionStore

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = aioredis.Redis.from_url(self.redis_url)
        subscriptions = SubscriptionStore(client, self.prefix)

        async def secrets_for(url: str) -> Sequence[str]:
            now = datetime.now(UTC)
            found = [s for s in await subscriptions.all(now=now) if s.url == url]
            return [secret for s in found for secret in s.secrets]

        ledger = Ledger(client, self.prefix)

        async def planned_for(message_id: str) -> Mapping[str, str] | None:
            entry = await ledger.get(message_id)
            return planned(entry.message) if entry is not None else None

        try:
            sinks = await self._started(Outbox(client, self.prefix), secrets_for, planned_for)
            self.sinks = sinks
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await sinks.stop()
        finally:
            await client.aclose()

    async def _started(
        self, outbox: Outbox, secrets_for: SecretsFor, planned_for: PlannedFor
    ) -> Sinks:
        """The sinks on the requested ports, or on free ones when those are taken."""
        sinks = Sinks(
            outbox,
            smtp_port=self._ports[0],
            http_port=self._ports[1],
            secrets_for=secrets_for,
            planned_for=planned_for,
        )
        try:
            await sinks.start()
        except OSError:
            await sinks.stop()
            log.info("development sink ports %s taken; picking free ones", self._ports)
            sinks = Sinks(outbox, secrets_for=secrets_for, planned_for=planned_for)
            await sinks.start()
        return sinks
