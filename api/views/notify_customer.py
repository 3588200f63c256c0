"""Customers' choices about messages: subscribe or stop updates for their order, and the
one-click unsubscribe link every e-mail carries (docs/notifications.md, "Customers").

``/v1/orders/{order_id}/notifications`` takes the capability token ``GET /v1/orders/{id}``
takes, for that one order. Answers never show an address whole: the customer sees a hint of
each (``a***@example.com``) and a ``ref`` that stops updates to it without naming it again.

The unsubscribe link (``/v1/notify/unsubscribe?token=…``, a signed token naming order, channel
and recipient, :mod:`projections.notify.unsubscribe`) answers a GET with a page and a button —
mail scanners follow links, so a GET changes nothing — and the POST, which RFC 8058 one-click
clients send with ``List-Unsubscribe=One-Click``, records the opt-out.
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import orjson
from aiohttp import web

from api.clients import client_of
from api.errors import BadRequest, TooManyRequests
from api.guards import SHARED_LIMITER
from api.keys import CAPABILITIES, CLOCK, REDIS, SETTINGS, TIMELINES
from api.ratelimit import Limit
from api.views.body import json_object, raw_body
from api.views.orders import customer_token
from api.views.respond import PRIVATE_NO_CACHE, json
from api.views.ui import POLICY
from projections.notify.contacts import ContactStore
from projections.notify.model import NotifyChannel
from projections.notify.subscriptions import (
    PreferenceStore,
    mask_recipient,
    preference_key,
)
from projections.notify.unsubscribe import read_unsubscribe_token

CUSTOMER_CHANNELS = (NotifyChannel.EMAIL, NotifyChannel.SMS)
MAX_ADDRESS = 320
#: what an address must look like (``openapi.yaml`` says the same patterns)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
PHONE_PATTERN = r"^\+?[ ().-]*([0-9][ ().-]*){6,15}$"
_EMAIL, _PHONE = re.compile(EMAIL_PATTERN), re.compile(PHONE_PATTERN)
REF_PATTERN = r"^[0-9a-f]{16}$"
#: addresses a customer may add to one order (each one's updates, and its opt-outs, count)
MAX_RECIPIENTS = 5
_PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def ref_of(key: str) -> str:
    """A stable handle on one preference key that does not show the address."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def preferences(request: web.Request) -> PreferenceStore:
    settings = request.app[SETTINGS]
    retention = settings.retention.redis_s  # the order's own Redis retention (0: none)
    return PreferenceStore(request.app[REDIS], settings.redis.key_prefix, retention_s=retention)


def _address(channel: NotifyChannel, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ADDRESS:
        raise BadRequest(f"address must be non-empty text of at most {MAX_ADDRESS} characters")
    if channel is NotifyChannel.EMAIL:
        if not _EMAIL.search(value):
            raise BadRequest("address must be an e-mail address (name@example.com)")
        return value.strip()
    if not _PHONE.search(value):
        raise BadRequest(
            "address must be a phone number of 6 to 15 digits in international form "
            "(+15551234567; spaces, dots, dashes and brackets allowed)"
        )
    return value.strip()


async def _state(request: web.Request, order_id: str) -> dict[str, Any]:
    """What the order's customer hears, and where: their own choices, then the order's contacts
    under the defaults (``notify.email_by_default``, ``notify.sms_by_default``)."""
    settings = request.app[SETTINGS]
    chosen = (await preferences(request).get(order_id)).choices
    contacts = await ContactStore(request.app[REDIS], settings.redis.key_prefix).get(order_id)
    defaults = {
        NotifyChannel.EMAIL: (contacts.email, settings.notify.email_by_default),
        NotifyChannel.SMS: (contacts.phone, settings.notify.sms_by_default),
    }
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for channel, (address, default) in defaults.items():
        if not address:
            continue
        key = preference_key(channel, address)
        seen.add(key)
        choice = chosen.get(key)
        entries.append(_entry(key, default if choice is None else choice, "order"))
    for key, subscribed in chosen.items():
        if key not in seen:
            entries.append(_entry(key, subscribed, "customer"))
    return {
        "order_id": order_id,
        "recipients": entries,
        "defaults": {
            "email": settings.notify.email_by_default,
            "sms": settings.notify.sms_by_default,
        },
    }


def _entry(key: str, subscribed: bool, source: str) -> dict[str, Any]:
    channel, _, recipient = key.partition(":")
    return {
        "ref": ref_of(key),
        "channel": channel,
        "address": mask_recipient(channel, recipient),
        "subscribed": subscribed,
        "source": source,
    }


async def _take(request: web.Request) -> None:
    """Unsubscribe links and preference changes, counted per client (every process) at the
    public tracking rate, in their own buckets."""
    api = request.app[SETTINGS].api
    limit = Limit("notify-client", api.tracking_client_rate_per_s, api.tracking_client_burst)
    wait = await request.app[SHARED_LIMITER].take((limit, client_of(request)))
    if wait:
        raise TooManyRequests("too many requests from this client", retry_after_s=wait)


async def read_preferences(request: web.Request) -> web.Response:
    app = request.app
    order_id = request.match_info["order_id"]
    app[CAPABILITIES].authorize(customer_token(request), order_id, app[CLOCK]())
    state = await _state(request, order_id)
    return json(state, headers={"Cache-Control": PRIVATE_NO_CACHE})


async def change_preferences(request: web.Request) -> web.Response:
    """Subscribe (``subscribed: true``) or stop updates to an address, or to a ``ref`` the GET
    listed."""
    app = request.app
    order_id = request.match_info["order_id"]
    app[CAPABILITIES].authorize(customer_token(request), order_id, app[CLOCK]())
    await _take(request)
    body = await json_object(request, app[SETTINGS].api.max_body_bytes)
    unknown = sorted(set(body) - {"channel", "address", "ref", "subscribed"})
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}; known: channel, address, ref, subscribed"
        )
    subscribed = body.get("subscribed")
    if not isinstance(subscribed, bool):
        raise BadRequest("subscribed must be true or false")
    store = preferences(request)
    if "ref" in body:
        if "address" in body or "channel" in body:
            raise BadRequest("give either ref, or channel and address")
        key = await _key_of_ref(request, order_id, body["ref"])
        channel_name, _, address = key.partition(":")
        await store.set(order_id, channel_name, address, subscribed)
    else:
        channel_value = body.get("channel")
        if not isinstance(channel_value, str) or channel_value not in CUSTOMER_CHANNELS:
            raise BadRequest("channel must be email or sms")
        channel = NotifyChannel(channel_value)
        address = _address(channel, body.get("address"))
        chosen = (await store.get(order_id)).choices
        if preference_key(channel, address) not in chosen and len(chosen) >= MAX_RECIPIENTS:
            raise BadRequest(
                f"an order takes at most {MAX_RECIPIENTS} addresses; stop one listed to add another"
            )
        await store.set(order_id, channel, address, subscribed)
    return json(await _state(request, order_id), headers={"Cache-Control": PRIVATE_NO_CACHE})


async def _key_of_ref(request: web.Request, order_id: str, ref: object) -> str:
    if not isinstance(ref, str) or not re.search(REF_PATTERN, ref):
        raise BadRequest("ref must be one of the refs GET answered (16 hex digits)")
    chosen = (await preferences(request).get(order_id)).choices
    settings = request.app[SETTINGS]
    contacts = await ContactStore(request.app[REDIS], settings.redis.key_prefix).get(order_id)
    keys = set(chosen)
    if contacts.email:
        keys.add(preference_key(NotifyChannel.EMAIL, contacts.email))
    if contacts.phone:
        keys.add(preference_key(NotifyChannel.SMS, contacts.phone))
    for key in keys:
        if ref_of(key) == ref:
            return key
    raise BadRequest("ref is not one of this order's recipients (GET lists them)")


# one-click unsubscribe ------------------------------------------------------------------------


def _page(title: str, body: str, status: int = 200) -> web.Response:
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/style.css">'
        '</head><body><header class="site"><a class="name" href="/track">Order tracking</a>'
        f'</header><main id="content" class="narrow"><h1>{html.escape(title)}</h1>'
        f'<div class="card">{body}</div></main></body></html>\n'
    )
    return web.Response(
        text=document, status=status, content_type="text/html", headers=_PAGE_HEADERS
    )


def _refused(reason: str) -> web.Response:
    return _page(
        "This link does not work",
        f'<p class="reason" data-reason="bad_token">{html.escape(reason)}</p>',
        status=400,
    )


def _token_of(request: web.Request) -> tuple[str, tuple[str, NotifyChannel, str]] | str:
    """The token and what it names, or the reason it cannot be used."""
    token = request.query.get("token", "")
    if not token:
        return "the link has no token; use the link from the message as it was sent"
    if len(token) > 4096:
        return "the token is too long to be one of ours"
    secret = request.app[SETTINGS].notify.unsubscribe_secret.get_secret_value()
    named = read_unsubscribe_token(secret, token)
    if named is None:
        return "the token is not valid (changed or cut short); use the link from the message"
    if named[1] not in CUSTOMER_CHANNELS:
        return "the token is not for e-mail or text messages"
    return token, named


async def _order_number(request: web.Request, order_id: str) -> str | None:
    """The order's number as its customer knows it (None: not in Redis any more)."""
    raw = await request.app[TIMELINES].timeline(order_id)
    if raw is None:
        return None
    number = orjson.loads(raw).get("order_number")
    return number if isinstance(number, str) and number else None


def _what(channel: NotifyChannel, recipient: str) -> str:
    kind = "e-mails" if channel is NotifyChannel.EMAIL else "text messages"
    return f"{kind} to {mask_recipient(channel, recipient)}"


async def unsubscribe_page(request: web.Request) -> web.Response:
    """A confirmation page with a button; following the link changes nothing."""
    await _take(request)
    found = _token_of(request)
    if isinstance(found, str):
        return _refused(found)
    token, (order_id, channel, recipient) = found
    action = "/v1/notify/unsubscribe?token=" + quote(token, safe="")
    number = await _order_number(request, order_id) or order_id
    body = (
        f"<p>Stop {html.escape(_what(channel, recipient))} about order "
        f"<strong>{html.escape(number)}</strong>?</p>"
        f'<form method="post" action="{html.escape(action)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" id="unsubscribe">Unsubscribe</button></form>'
    )
    return _page("Stop updates", body)


async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click: the POST records the opt-out (as often as it is sent)."""
    await _take(request)
    found = _token_of(request)
    if isinstance(found, str):
        return _refused(found)
    raw = await raw_body(request, request.app[SETTINGS].api.max_body_bytes)
    if raw.strip() and request.content_type == "application/x-www-form-urlencoded":
        form = parse_qs(raw.decode("utf-8", "replace"))
        given = form.get("List-Unsubscribe")
        if given is not None and given != ["One-Click"]:
            return _refused("the form says List-Unsubscribe, but not One-Click")
    _, (order_id, channel, recipient) = found
    await preferences(request).set(order_id, channel, recipient, False)
    number = await _order_number(request, order_id)
    page = "/track" if number is None else "/track?" + urlencode({"order": number})
    body = (
        f'<p id="done">Done: no more {html.escape(_what(channel, recipient))} about order '
        f"<strong>{html.escape(number or order_id)}</strong>.</p>"
        f'<p>You can turn updates back on from the order\'s <a href="{html.escape(page)}">'
        "status page</a>.</p>"
    )
    return _page("Unsubscribed", body)
