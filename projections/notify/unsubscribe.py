"""Signed one-click unsubscribe links and the links every customer message carries.

A token names one (order, channel, recipient) and is signed with HMAC-SHA256 under
``settings.notify.unsubscribe_secret``: whoever holds the link may turn off that recipient's
messages about that order, and nothing else. Tokens do not expire (a link in a months-old
e-mail must still work) and carry a version byte, so the format can change without breaking
old links. Layout, URL-safe base64 without padding::

    version (1 byte) ‖ HMAC-SHA256(secret, version ‖ body) (32 bytes) ‖ body (JSON array)

:func:`list_unsubscribe_headers` gives the RFC 8058 headers that let a mail client unsubscribe
with one click (a POST to the same URL).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import orjson

from projections.notify.model import Message, NotifyChannel
from wismo.settings import NotifySettings

VERSION = 1
_MAC_BYTES = 32


@dataclass(frozen=True, slots=True)
class Links:
    """Where a customer message points: the status page and the one-click unsubscribe."""

    status_url: str
    unsubscribe_url: str


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _mac(secret: bytes | str, signed: bytes) -> bytes:
    return hmac.new(_key(secret), signed, hashlib.sha256).digest()


def unsubscribe_token(
    secret: bytes | str, order_id: str, channel: NotifyChannel | str, recipient: str
) -> str:
    """The signed token for turning off ``recipient``'s ``channel`` messages about an order."""
    body = orjson.dumps([order_id, NotifyChannel(channel).value, recipient.lower()])
    head = bytes([VERSION])
    raw = head + _mac(secret, head + body) + body
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_unsubscribe_token(
    secret: bytes | str, token: str
) -> tuple[str, NotifyChannel, str] | None:
    """(order id, channel, recipient) of a genuine token; ``None`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= 1 + _MAC_BYTES or raw[0] != VERSION:
        return None
    head, mac, body = raw[:1], raw[1 : 1 + _MAC_BYTES], raw[1 + _MAC_BYTES :]
    if not hmac.compare_digest(mac, _mac(secret, head + body)):
        return None
    try:
        order_id, channel, recipient = orjson.loads(body)
        return str(order_id), NotifyChannel(channel), str(recipient)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for an e-mail whose unsubscribe link is ``url``."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/v1/notify/unsubscribe?token={token}"


def status_url(
    public_url: str,
    *,
    order_number: str | None,
    tracking_number: str | None,
    brand: str | None = None,
) -> str:
    """The status page of a parcel (by tracking number) or else of the order (by number), in
    the order's brand's look when it has one."""
    base = f"{public_url.rstrip('/')}/track"
    query: dict[str, str] = {}
    if tracking_number:
        query["tracking"] = tracking_number
    elif order_number:
        query["order"] = order_number
    if brand:
        query["brand"] = brand
    return f"{base}?{urlencode(query, quote_via=quote)}" if query else base


def links_for(message: Message, settings: NotifySettings) -> Links:
    """The status and unsubscribe links of a customer message (its payload names the order
    number and, for a parcel's message, the parcel's tracking number; a branded order's status
    link names its brand)."""
    payload = message.payload
    parcel = payload.get("parcel") or {}
    token = unsubscribe_token(
        settings.unsubscribe_secret.get_secret_value(),
        message.order_id,
        message.channel,
        message.recipient,
    )
    return Links(
        status_url=status_url(
            settings.public_url,
            order_number=payload.get("order_number"),
            tracking_number=parcel.get("tracking_number"),
            brand=payload.get("brand"),
        ),
        unsubscribe_url=unsubscribe_url(settings.public_url, token),
    )
