"""The senders: one planned :class:`~projections.notify.model.Message` out over its channel.

Each sender makes one attempt and says how it went in a :class:`SendResult`; the dispatcher
decides what follows (a retry after backoff, a permanent failure, a disabled endpoint). A sender
never raises for what the far side answers or for a broken connection, only for a programming
error.

- :class:`EmailSender`: SMTP through ``aiosmtplib`` over a small pool of reused connections
  (``notify.smtp_connections``; a broken one is dropped and reopened on the next send). The
  e-mail is ``multipart/alternative``, text then HTML (:func:`compose_email`). Its
  ``Message-ID`` is derived from the message id alone, so a re-send after a crash carries the
  same one and the receiving side (and the development sink) can tell. A 5xx reply is
  permanent, a 4xx reply or a connection error is worth a retry.
- :class:`SmsSender`: a Twilio-style ``Messages`` endpoint (POST form ``To``, ``From``, ``Body``,
  HTTP basic auth), with the message id as Twilio's ``I-Twilio-Idempotency-Token`` so the
  provider drops a repeat of a send whose answer was lost.
- :class:`WebhookSender`: an integrator's endpoint, signed per the Standard Webhooks
  specification with every secret of the subscription (two during a rotation). ``webhook-id`` is
  the message id: the receiver's dedup key, stable across retries.
- :class:`ChatSender`: agent alerts to team chat through ``apprise``. Its URLs hold tokens: they
  are never logged nor put in a result.

HTTP outcomes (SMS and webhooks): 2xx is delivered; 410 Gone and any other 4xx except 408 and
429 are permanent; 408, 429, 5xx, 3xx, timeouts and connection errors are retried, with the
``Retry-After`` the endpoint gave (seconds or an HTTP date) as the earliest next attempt.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import functools
import hashlib
import hmac
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.header import Header
from typing import Any, Protocol

import aiohttp
import aiosmtplib

from carriers.http import retry_after_seconds
from carriers.standard_webhooks import secret_key
from projections.notify.model import Message, Subscription
from wismo.settings import NotifySettings

log = logging.getLogger(__name__)

USER_AGENT = "wismo-webhooks/1"
SMS_IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
#: at most this much of an error answer's body goes into a result (for the delivery log)
ERROR_TEXT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one attempt went. ``permanent``: retrying will not help (the message failed for
    good). ``retry_after_s``: the earliest next attempt the far side asked for, if any.
    ``provider_id``: the e-mail's Message-ID, the SMS provider's message sid."""

    ok: bool
    status_code: int | None
    permanent: bool
    retry_after_s: float | None
    error: str | None
    latency_ms: float
    provider_id: str | None = None


class Rendered(Protocol):
    """What a rendered customer message offers a sender (the renderer's output)."""

    @property
    def subject(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def html(self) -> str: ...


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def http_outcome(status: int, headers: Mapping[str, str], text: str, started: float) -> SendResult:
    """The result of an HTTP answer (see the module's docstring for what is permanent)."""
    latency = _elapsed_ms(started)
    if 200 <= status < 300:
        return SendResult(True, status, False, None, None, latency)
    permanent = 400 <= status < 500 and status not in (408, 429)
    error = f"HTTP {status}" + (f": {text[:ERROR_TEXT_LIMIT]}" if text else "")
    wait = None if permanent else retry_after_seconds(headers.get("Retry-After"))
    return SendResult(False, status, permanent, wait, error, latency)


def _transport_error(exc: BaseException, started: float) -> SendResult:
    if isinstance(exc, TimeoutError):
        error = "timed out"
    else:
        error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT]
    return SendResult(False, None, False, None, error, _elapsed_ms(started))


# ---------------------------------------------------------------------------------------------
# E-mail


def _ascii_address(address: str) -> str:
    """``address`` with an internationalised domain written in IDNA (``xn--…``)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    return f"{local}@{domain.encode('idna').decode('ascii')}"


@functools.lru_cache(maxsize=64)
def sender_domain(sender: str) -> str:
    """The domain of the sender's address (the right-hand side of generated Message-IDs)."""
    address = _ascii_address(email.utils.parseaddr(sender)[1])
    return address.rpartition("@")[2] or "wismo.localhost"


def message_id_header(message_id: str, domain: str) -> str:
    """The e-mail ``Message-ID`` of a message: a function of its id alone."""
    return f"<{message_id}@{domain}>"


_CRLF = "\r\n"
#: RFC 5322's hard limit on a line, CRLF excluded
_LINE_LIMIT = 998


def _header(name: str, value: str) -> str:
    """One header line. CR and LF in a value are dropped (no header injection); a non-ASCII
    value is written as RFC 2047 encoded words."""
    value = " ".join(value.replace("\r", " ").replace("\n", " ").split())
    if not value.isascii():
        encoded = Header(value, "utf-8", header_name=name).encode(linesep=_CRLF)
        return f"{name}: {encoded}{_CRLF}"
    line = f"{name}: {value}"
    if len(line) > _LINE_LIMIT:
        line = f"{name}: " + f"{_CRLF} ".join(value.split(" "))
    return line + _CRLF


@functools.lru_cache(maxsize=64)
def _address(value: str) -> str:
    """An address header value: the display name quoted or encoded as needed."""
    name, address = email.utils.parseaddr(value)
    if not address:
        return value
    return email.utils.formataddr((name, _ascii_address(address)), charset="utf-8")


@functools.lru_cache(maxsize=64)
def _from_header(sender: str) -> str:
    return _header("From", _address(sender))


_date_cache: list[Any] = [None, ""]


def _date_now() -> str:
    """RFC 5322 date of this second (formatted once a second)."""
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache[:] = [second, email.utils.formatdate(second, usegmt=True)]
    return str(_date_cache[1])


def _seven_bit(content: str, boundary: str) -> bool:
    """Whether ``content`` can go as it is: ASCII, no bare CR or NUL, no line longer than SMTP
    allows, and not containing the boundary."""
    return (
        content.isascii()
        and "\r" not in content
        and "\x00" not in content
        and max(map(len, content.split("\n"))) <= _LINE_LIMIT
        and boundary not in content
    )


def _part(content_type: str, content: str, boundary: str) -> str:
    """One body part: as it is when it can (7bit), else UTF-8 in quoted-printable."""
    if _seven_bit(content, boundary):
        encoding, encoded = "7bit", content.replace("\n", _CRLF)
    else:
        encoding = "quoted-printable"
        encoded = binascii.b2a_qp(content.encode(), istext=True).decode("ascii")
        encoded = encoded.replace("\n", _CRLF)
    return (
        f'Content-Type: {content_type}; charset="utf-8"{_CRLF}'
        f"Content-Transfer-Encoding: {encoding}{_CRLF}{_CRLF}"
        f"{encoded}{_CRLF}"
    )


def compose_email(
    message: Message,
    rendered: Rendered,
    headers: Mapping[str, str],
    sender: str,
    date: str | None = None,
) -> tuple[str, bytes]:
    """The ``Message-ID`` and the bytes of the ``multipart/alternative`` e-mail of a rendered
    message: text, then HTML, each as it is when it is plain ASCII with lines SMTP accepts
    (``7bit``), else UTF-8 in quoted-printable.

    Written directly rather than through :class:`email.message.EmailMessage`, whose header
    objects cost more than the SMTP conversation itself; the tests parse the result with the
    standard library. The boundary is derived from the message id; it starts with ``=_``, which
    quoted-printable content can never contain (``=`` is written ``=3D``), and a part that
    contains it is written in quoted-printable.
    """
    message_id = message_id_header(message.message_id, sender_domain(sender))
    boundary = f"=_{message.message_id}"
    lines = [
        _from_header(sender),
        _header("To", message.recipient),
        _header("Subject", rendered.subject),
        _header("Date", date or _date_now()),
        _header("Message-ID", message_id),
    ]
    reserved = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
    lines += [_header(n, v) for n, v in headers.items() if n.lower() not in reserved]
    lines += [
        f"MIME-Version: 1.0{_CRLF}",
        f'Content-Type: multipart/alternative; boundary="{boundary}"{_CRLF}',
        _CRLF,
        f"--{boundary}{_CRLF}",
        _part("text/plain", rendered.text, boundary),
        f"--{boundary}{_CRLF}",
        _part("text/html", rendered.html, boundary),
        f"--{boundary}--{_CRLF}",
    ]
    return message_id, "".join(lines).encode("ascii")


class EmailSender:
    """SMTP over a pool of at most ``settings.smtp_connections`` reused connections."""

    def __init__(self, settings: NotifySettings) -> None:
        if settings.smtp_host is None:
            raise ValueError("notify.smtp_host is not set: there is no SMTP server to send to")
        self.settings = settings
        self._envelope_from = _ascii_address(email.utils.parseaddr(settings.sender)[1])
        # the pool: an idle connection, or None for a free slot (open a connection to use it);
        # last in, first out, so idle connections are used before new ones are opened
        self._pool: asyncio.LifoQueue[aiosmtplib.SMTP | None] = asyncio.LifoQueue()
        for _ in range(settings.smtp_connections):
            self._pool.put_nowait(None)
        self._closed = False

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password is not None else None
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=password,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
            timeout=s.request_timeout_s,
        )

    def _release(self, client: aiosmtplib.SMTP | None, reusable: bool) -> None:
        """Give the connection back, or close it and give back its slot."""
        if client is not None and not (reusable and client.is_connected and not self._closed):
            client.close()
            client = None
        self._pool.put_nowait(client)

    async def send(
        self, message: Message, rendered: Rendered, headers: Mapping[str, str]
    ) -> SendResult:
        """One e-mail; a ``From`` in ``headers`` (the brand's sender) is its From and envelope
        sender, else ``notify.sender``."""
        sender = headers.get("From") or self.settings.sender
        envelope = (
            self._envelope_from
            if sender == self.settings.sender
            else _ascii_address(email.utils.parseaddr(sender)[1])
        )
        provider_id, mail = compose_email(message, rendered, headers, sender)
        started = time.perf_counter()
        result = await self._attempt(envelope, message.recipient, mail, provider_id, started)
        if result is None:  # an idle connection the server had dropped: once more, afresh
            result = await self._attempt(
                envelope, message.recipient, mail, provider_id, started, True
            )
        assert result is not None
        return result

    async def _attempt(
        self,
        envelope: str,
        recipient: str,
        mail: bytes,
        provider_id: str,
        started: float,
        fresh: bool = False,
    ) -> SendResult | None:
        """One SMTP transaction; ``None`` when a reused connection turned out to be closed."""
        client = await self._pool.get()
        if fresh and client is not None:
            client.close()
            client = None
        reused = client is not None
        reusable = False  # only a conversation that ended with a reply leaves it usable
        try:
            if client is None:
                client = self._client()
                await client.connect()
            await client.sendmail(envelope, [recipient], mail)
            reusable = True
        except aiosmtplib.SMTPRecipientsRefused as exc:
            reusable = True  # aiosmtplib reset the envelope
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused is not None else None
            text = refused.message if refused is not None else str(exc)
            return self._refused(code, text, started, provider_id)
        except aiosmtplib.SMTPResponseException as exc:
            reusable = True
            return self._refused(exc.code, exc.message, started, provider_id)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if reused and isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
                return None
            return _transport_error(exc, started)
        finally:
            self._release(client, reusable)
        return SendResult(True, 250, False, None, None, _elapsed_ms(started), provider_id)

    @staticmethod
    def _refused(code: int | None, text: str, started: float, provider_id: str) -> SendResult:
        permanent = code is not None and 500 <= code < 600
        error = f"SMTP {code}: {text}"[:ERROR_TEXT_LIMIT]
        return SendResult(False, code, permanent, None, error, _elapsed_ms(started), provider_id)

    async def close(self) -> None:
        """Quit the idle connections; one in use is closed when its send gives it back."""
        self._closed = True
        while not self._pool.empty():
            client = self._pool.get_nowait()
            if client is None:
                continue
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


# ---------------------------------------------------------------------------------------------
# HTTP senders


class SmsSender:
    """A Twilio-style ``Messages`` endpoint (``notify.sms_url``), on a session the caller owns.
    ``from_number``: the sender number of a message (its brand's); ``notify.sms_from`` without."""

    def __init__(
        self,
        settings: NotifySettings,
        session: aiohttp.ClientSession,
        from_number: Callable[[Message], str] | None = None,
    ) -> None:
        if settings.sms_url is None:
            raise ValueError("notify.sms_url is not set: there is no SMS provider to send to")
        self.settings = settings
        self._url = settings.sms_url
        token = settings.sms_token.get_secret_value() if settings.sms_token is not None else ""
        self._authorization = aiohttp.encode_basic_auth(settings.sms_account or "", token)
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)
        self._session = session
        self._from_number = from_number

    async def send(self, message: Message, body: str) -> SendResult:
        sender = self._from_number(message) if self._from_number else self.settings.sms_from
        form = {"To": message.recipient, "From": sender, "Body": body}
        headers = {
            SMS_IDEMPOTENCY_HEADER: message.message_id,
            "User-Agent": USER_AGENT,
            "Authorization": self._authorization,
        }
        started = time.perf_counter()
        try:
            async with self._session.post(
                self._url,
                data=form,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                text = await response.text()
                result = http_outcome(response.status, response.headers, text, started)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _transport_error(exc, started)
        if not result.ok:
            return result
        sid = _json_field(text, "sid")
        return SendResult(True, result.status_code, False, None, None, result.latency_ms, sid)

    async def close(self) -> None:
        """Nothing of its own to close: the session is the caller's."""


def _json_field(text: str, name: str) -> str | None:
    import orjson

    try:
        document: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    value = document.get(name) if isinstance(document, dict) else None
    return str(value) if value is not None else None


#: secrets whose prepared HMAC state is kept (a sender sees few subscriptions' secrets)
_KEYS_KEPT = 1024
_prepared: dict[str, Any] = {}


def _keyed(secret: str) -> Any:
    """The HMAC-SHA256 state keyed with ``secret`` (decoded once, then copied per signature)."""
    state = _prepared.get(secret)
    if state is None:
        if len(_prepared) >= _KEYS_KEPT:
            _prepared.clear()
        state = _prepared[secret] = hmac.new(secret_key(secret), digestmod=hashlib.sha256)
    return state


def signature(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1`` entry per secret, as
    :func:`carriers.standard_webhooks.sign` computes it, with each key decoded only once."""
    content = f"{message_id}.{timestamp}.".encode() + body
    entries = []
    for secret in secrets:
        mac = _keyed(secret).copy()
        mac.update(content)
        entries.append("v1," + base64.b64encode(mac.digest()).decode())
    return " ".join(entries)


def signed_headers(
    message_id: str, secrets: Sequence[str], body: bytes, timestamp: int
) -> dict[str, str]:
    """The Standard Webhooks headers of a delivery: one ``v1`` signature per secret."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secrets, message_id, timestamp, body),
    }


class WebhookSender:
    """Signed POSTs to integrators' endpoints, on a session the caller owns."""

    def __init__(self, settings: NotifySettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)
        self._session = session

    async def send(self, message: Message, subscription: Subscription, body: bytes) -> SendResult:
        headers = signed_headers(message.message_id, subscription.secrets, body, int(time.time()))
        started = time.perf_counter()
        try:
            async with self._session.post(
                subscription.url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                text = "" if response.status < 300 else await response.text(errors="replace")
                return http_outcome(response.status, response.headers, text, started)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _transport_error(exc, started)

    async def close(self) -> None:
        """Nothing of its own to close: the session is the caller's."""


# ---------------------------------------------------------------------------------------------
# Team chat


class ChatSender:
    """Agent alerts through ``apprise`` to ``notify.alert_urls[int(message.recipient)]``."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._targets: dict[int, Any] = {}

    def _target(self, index: int) -> Any:
        target = self._targets.get(index)
        if target is not None:
            return target
        with warnings.catch_warnings():
            # apprise loads plugins that import what the standard library deprecates (imghdr)
            warnings.simplefilter("ignore", DeprecationWarning)
            import apprise

            target = apprise.Apprise()
            if not target.add(self.settings.alert_urls[index].get_secret_value()):
                raise ValueError(f"alert target {index} is not a URL apprise understands")
        self._targets[index] = target
        return target

    async def send(self, message: Message, rendered: Rendered) -> SendResult:
        started = time.perf_counter()
        try:
            index = int(message.recipient)
            if not 0 <= index < len(self.settings.alert_urls):
                raise IndexError(index)
            target = self._target(index)
        except (ValueError, IndexError):
            error = f"no alert target {message.recipient!r} (notify.alert_urls)"
            return SendResult(False, None, True, None, error, _elapsed_ms(started))
        try:
            if hasattr(target, "async_notify"):
                sent = await target.async_notify(body=rendered.text, title=rendered.subject)
            else:
                sent = await asyncio.to_thread(
                    target.notify, body=rendered.text, title=rendered.subject
                )
        except Exception as exc:  # apprise plugins raise what their transports raise
            # the URL holds a token: name only the target and the kind of failure
            log.warning("alert target %d failed: %s", index, type(exc).__name__)
            return _transport_error(RuntimeError(type(exc).__name__), started)
        if not sent:
            error = f"alert target {index} did not accept the notification"
            return SendResult(False, None, False, None, error, _elapsed_ms(started))
        return SendResult(True, None, False, None, None, _elapsed_ms(started))

    async def close(self) -> None:
        self._targets.clear()
