"""Customer reads: look an order up, read it with the capability token, track a parcel."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web

from api.auth import bearer, issue_customer_token
from api.clients import client_of
from api.customer_view import customer_view, parcel_view, preference, reader_language
from api.errors import BadRequest, NotFound, TooManyRequests
from api.guards import LIMITS, SHARED_LIMITER
from api.keys import (
    CAPABILITIES,
    CLOCK,
    ORDER_CACHE,
    SETTINGS,
    STORE,
    TIMELINES,
)
from api.order_cache import EncodedAnswer
from api.page_texts import page_labels
from api.reread import reread
from api.views.body import json_object
from api.views.respond import PRIVATE_NO_CACHE, encoded, etag_for, json
from projections.customer_order import FORMAT, encode
from projections.exception_flow import timeline_from_json
from projections.timeline_model import Timeline
from wismo.brands import public_brand
from wismo.i18n import SHIPPED, language

_MAX_FIELD = 320


def _text_field(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_FIELD:
        raise BadRequest(f"{name} must be non-empty text of at most {_MAX_FIELD} characters")
    return value.strip()  # only spaces is well formed, and matches no order


async def lookup(request: web.Request) -> web.Response:
    """A postcode is guessable: guesses are counted per client and per order number, in Redis
    for every API process (docs/security.md); a look-up that finds its order gives the order
    number's token back, so only failed guesses use up an order's allowance."""
    app = request.app
    settings = app[SETTINGS]
    document = await json_object(request, settings.api.max_body_bytes)
    order_number = _text_field(document, "order_number")
    email, postcode = _text_field(document, "email"), _text_field(document, "postcode")
    brand = _text_field(document, "brand")
    if order_number is None or (email is None and postcode is None):
        raise BadRequest("give order_number and either email or postcode")
    limits, limiter = app[LIMITS], app[SHARED_LIMITER]
    per_order = (limits.lookup_order, order_number.casefold())
    wait = await limiter.take((limits.lookup_client, client_of(request)), per_order)
    if wait:
        raise TooManyRequests("too many look-ups; try again later", retry_after_s=wait)
    blank = not order_number or "" in (email, postcode)
    store = app[STORE]
    order_id = None if blank else await store.order_for_lookup(order_number, email, postcode)
    if order_id is not None and brand is not None:
        # the page of one brand finds none of another's orders (nor unbranded ones)
        found = await stored_timeline(request, order_id)
        if found.brand != brand:
            order_id = None
    if order_id is None:
        raise NotFound("no order matches that order number and e-mail or postcode")
    await limiter.give_back(per_order)
    now = app[CLOCK]()
    ttl = settings.api.customer_token_ttl_s
    token = issue_customer_token(settings.api.customer_token_secret, order_id, now, ttl)
    expires = (now + timedelta(seconds=ttl)).isoformat()
    return json({"order_id": order_id, "token": token, "expires_at": expires})


def customer_token(request: web.Request) -> str | None:
    return bearer(request.headers) or request.query.get("token")


async def timeline_document(request: web.Request, order_id: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(await _timeline_json(request, order_id))
    return document


async def stored_timeline(request: web.Request, order_id: str) -> Timeline:
    return timeline_from_json(await _timeline_json(request, order_id))


async def _timeline_json(request: web.Request, order_id: str) -> bytes:
    raw = await request.app[TIMELINES].timeline(order_id)
    if raw is None:
        raw = await reread(request.app, order_id)  # expired from Redis: from the log
    if raw is None:
        raise NotFound(f"order {order_id} is not known")
    return raw


async def read_order(request: web.Request) -> web.Response:
    """The ``CustomerOrder`` document, from this process's cache while the change feed keeps it
    current (:mod:`api.order_cache`), else from Redis (then kept, unless the order changed
    meanwhile)."""
    app = request.app
    order_id = request.match_info["order_id"]
    app[CAPABILITIES].authorize(customer_token(request), order_id, app[CLOCK]())
    cache = app[ORDER_CACHE]
    variant = _preference(request)
    answer = cache.get(order_id, variant)
    if answer is None:
        fill = cache.begin(order_id, variant)
        try:
            answer = await customer_document(request, order_id)
        finally:
            cache.finish(fill, answer)
    return encoded(request, answer)


async def customer_document(request: web.Request, order_id: str) -> EncodedAnswer:
    timeline = await stored_timeline(request, order_id)
    settings = request.app[SETTINGS]
    lang = _language(request, timeline)
    body = encode(customer_view(settings, timeline, lang))
    return EncodedAnswer.of(etag_for(timeline, "customer", FORMAT, lang), body, PRIVATE_NO_CACHE)


def _preference(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    return preference(settings, request.query.get("lang"), request.headers.get("Accept-Language"))


def _language(request: web.Request, timeline: Timeline) -> str:
    """The reader's language: ``?lang=`` > the order's locale > Accept-Language > the brand's."""
    explicit, accept = request.query.get("lang"), request.headers.get("Accept-Language")
    return reader_language(request.app[SETTINGS], timeline, explicit, accept)


async def track(request: web.Request) -> web.Response:
    """Public: a tracking number is the only credential, so reads are counted per client."""
    app = request.app
    limits = app[LIMITS]
    wait = await app[SHARED_LIMITER].take((limits.tracking_client, client_of(request)))
    if wait:
        raise TooManyRequests("too many tracking reads from this client", retry_after_s=wait)
    number = request.match_info["tracking_number"]
    order_id = await request.app[STORE].order_for_tracking(number)
    timeline = await stored_timeline(request, order_id) if order_id else None
    lang = _language(request, timeline) if timeline else ""
    parcel = parcel_view(timeline, number, lang) if timeline else None
    if timeline is None or parcel is None:
        raise NotFound(f"tracking number {number} is not known")
    etag = etag_for(timeline, "tracking", FORMAT, lang, number)
    return encoded(request, EncodedAnswer.of(etag, encode(parcel), "public, no-cache"))


async def brand(request: web.Request) -> web.Response:
    """Public: what the status page shows of a brand (name, logo, colours, support, locale)."""
    block = public_brand(request.app[SETTINGS], request.match_info["brand"])
    if block is None:
        raise NotFound("no such brand")
    body = encode(block)
    return encoded(request, EncodedAnswer.of(_content_tag(body), body, "public, max-age=300"))


async def page_texts(request: web.Request) -> web.Response:
    """Public: the status page's own labels in one language (404 for one wismo does not ship)."""
    lang = language(request.match_info["lang"])
    if lang is None or lang not in SHIPPED or lang != request.match_info["lang"]:
        raise NotFound("no such language")
    body = encode({"lang": lang, "labels": page_labels(lang)})
    return encoded(request, EncodedAnswer.of(_content_tag(body), body, "public, max-age=300"))


def _content_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
