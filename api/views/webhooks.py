"""Ingestion: signed webhooks from every source, and canonical events from integrations.

A webhook is authenticated before anything is counted against its source: known source,
content type, size, then the signature over the raw bytes (constant-time comparisons, no I/O).
A refused signature is counted against the *client* that sent it (:data:`FAILURE_LIMITER`, per
process, bounded) and answered 429 once that client has failed too often; only authentic
deliveries take from the source's own rate limit, so forgeries can never throttle a source's
real traffic. Then a parse refuses what can never become events. What passes is written *raw*
to the raw topic (the normalise agent parses it again, so a parser fix plus a replay re-reads
exactly what was sent) and answered 202 once the broker has it.

Only the HTTP headers the parsers read travel with the raw payload (:data:`FORWARDED_HEADERS`):
signatures, credentials, tokens and keys never reach Kafka, and so neither the dead letters
nor ClickHouse.

A delivery verifies against its source's global secrets and against every brand's secrets for
that source (docs/brands.md). When a brand's secret verified it, the API itself adds
:data:`wismo.brands.SIGNED_BRAND_HEADER` naming that brand (a copy the sender sent never passes
the edge), and the normalise agent gives the order that brand unless the payload states one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from api.auth import check_api_key
from api.clients import client_of
from api.deliveries import Claim
from api.errors import (
    ApiError,
    BadRequest,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    Unprocessable,
)
from api.kafka import write
from api.keys import CLOCK, DELIVERIES, METRICS, PRODUCER, SETTINGS, WEBHOOK_LIMITER
from api.ratelimit import RateLimiter
from api.views.body import raw_body, require_json
from api.views.respond import json
from carriers import registry
from carriers.base import ParseResult, Problem, Source
from carriers.canonical import parse_feed
from wismo.brands import BRANDED_KINDS, SIGNED_BRAND_HEADER, stamp_brand
from wismo.events import Event
from wismo.ids import digest
from wismo.settings import Settings
from wismo.topics import RAW, RawPayload, route

#: The only HTTP headers written with a raw payload: those the parsers read (delivery ids,
#: Shopify's topic and trigger time). Anything else — signatures, echoed credentials, API keys,
#: cookies — stays at the edge. A test parses every source's samples with just these.
FORWARDED_HEADERS = frozenset(
    {
        "webhook-id",
        "x-shopify-topic",
        "x-shopify-event-id",
        "x-shopify-webhook-id",
        "x-shopify-triggered-at",
    }
)
#: refused webhooks per client address: a sender with a wrong secret learns it quickly, a
#: flood of forgeries is answered 429 without touching the sources' limits
FAILURE_LIMITER = web.AppKey("webhook_failure_limiter", RateLimiter)
API_SOURCE = "api"

log = logging.getLogger(__name__)


def _source(name: str) -> Source:
    if name not in registry.names():
        raise NotFound("unknown webhook source")
    try:
        return registry.get(name)
    except (ImportError, AttributeError) as error:
        raise NotFound(f"source {name!r} is not available in this build") from error


def _problems(problems: tuple[Problem, ...]) -> list[dict[str, Any]]:
    return [
        {"code": str(p.code), "message": p.message, "path": p.path, "raw_code": p.raw_code}
        for p in problems
    ]


def _parse(source: Source, raw: bytes, headers: dict[str, str], now: datetime) -> ParseResult:
    """Parse to refuse what can never become events. A parser that crashes is our bug, not the
    sender's: the authentic payload is still taken, and the normalise agent dead-letters it with
    the error, to be replayed once the parser is fixed."""
    try:
        return source.parse(raw, headers, now)
    except Exception:
        log.exception("the %s parser failed on an authentic payload; keeping it raw", source.name)
        return ParseResult()


@dataclass(frozen=True, slots=True)
class _Delivery:
    """An authentic, parseable webhook delivery."""

    source: str
    raw: bytes
    headers: dict[str, str]
    received_at: datetime
    content_type: str
    result: ParseResult
    signed_by: str | None = None

    @property
    def delivery_id(self) -> str:
        # without a sender id, identical bodies are the same delivery
        return self.result.delivery_id or f"body:{digest(self.raw.hex())}"

    def payload(self) -> RawPayload:
        forwarded = {k: v for k, v in self.headers.items() if k in FORWARDED_HEADERS}
        if self.signed_by is not None:
            forwarded[SIGNED_BRAND_HEADER] = self.signed_by
        return RawPayload(
            source=self.source,
            body=self.raw,
            received_at=self.received_at,
            content_type=self.content_type,
            delivery_id=self.delivery_id,
            http_headers=forwarded,
        )


async def receive_webhook(request: web.Request) -> web.Response:
    name = request.match_info["source"]
    source = _source(name)  # before any metric: unknown names must not become label values
    outcomes = request.app[METRICS].webhooks
    try:
        delivery = await _authentic(request, name, source)
        response = await _write_once(request, delivery)
    except ApiError as error:
        outcomes.labels(name, error.error).inc()
        raise
    outcomes.labels(name, "accepted" if response.status == 202 else "duplicate").inc()
    return response


def _secret_sets(settings: Settings, name: str) -> list[tuple[str | None, list[str]]]:
    """The secrets a delivery of source ``name`` may be signed with: the global ones (brand
    None) first, then each brand's."""
    sets: list[tuple[str | None, list[str]]] = []
    for brand, secrets in [
        (None, settings.webhook_secrets.get(name, ())),
        *(
            (brand, config.webhook_secrets.get(name, ()))
            for brand, config in settings.brands.items()
        ),
    ]:
        if secrets:
            sets.append((brand, [s.get_secret_value() for s in secrets]))
    return sets


def _verify(
    source: Source,
    sets: list[tuple[str | None, list[str]]],
    raw: bytes,
    headers: dict[str, str],
    now: datetime,
) -> tuple[Problem | None, str | None]:
    """(None, signing brand) for the first set that verifies, else (the global set's problem or
    the first one's, None)."""
    first: Problem | None = None
    for brand, secrets in sets:
        problem = source.verify(raw, headers, secrets, now)
        if problem is None:
            return None, brand
        first = first or problem
    return first, None


async def _authentic(request: web.Request, name: str, source: Source) -> _Delivery:
    """Content type, size, signature, then the source's rate limit and a parse."""
    app = request.app
    settings = app[SETTINGS]
    sets = _secret_sets(settings, name)
    if not sets:
        raise Unauthorized(f"no webhook secret is configured for {name}")
    require_json(request)
    raw = await raw_body(request, settings.api.max_body_bytes)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers.pop(SIGNED_BRAND_HEADER, None)  # only the API says which brand signed
    now = app[CLOCK]()
    problem, signed_by = _verify(source, sets, raw, headers, now)
    if problem is not None:
        wait = app[FAILURE_LIMITER].take(client_of(request))
        if wait:
            raise TooManyRequests("too many refused webhooks from this client", retry_after_s=wait)
        raise Unauthorized(problem.message, details={"code": str(problem.code)})
    wait = app[WEBHOOK_LIMITER].take(name)
    if wait:
        raise TooManyRequests(f"rate limit for {name} exceeded", retry_after_s=wait)
    result = _parse(source, raw, headers, now)
    if result.fatal:
        raise BadRequest(result.reason(), details=_problems(result.problems))
    return _Delivery(name, raw, headers, now, request.content_type, result, signed_by)


async def _write_once(request: web.Request, delivery: _Delivery) -> web.Response:
    """Write the raw payload unless this delivery id was written before (202 / 200)."""
    app = request.app
    ledger, delivery_id = app[DELIVERIES], delivery.delivery_id
    claim = await ledger.claim(delivery.source, delivery_id)
    if claim is Claim.DUPLICATE:
        return json({"status": "duplicate", "delivery_id": delivery_id}, status=200)
    if claim is Claim.IN_FLIGHT:
        raise Unavailable(f"delivery {delivery_id} is being written; retry shortly")
    payload = delivery.payload()
    topic = app[SETTINGS].topic(RAW)
    try:
        await write(app[PRODUCER], [(topic, payload.key, payload.body, payload.kafka_headers())])
    except Unavailable:
        await ledger.release(delivery.source, delivery_id)
        raise
    await ledger.done(delivery.source, delivery_id)
    body = {
        "status": "accepted",
        "delivery_id": delivery_id,
        "events": len(delivery.result.events),
        "problems": _problems(delivery.result.problems),
    }
    return json(body, status=202)


def _unknown_brands(settings: Settings, events: Iterable[Event]) -> set[str]:
    """Brands stated by order events that are not configured (none when no brand is)."""
    if not settings.brands:
        return set()
    stated = (getattr(e.payload, "brand", None) for e in events if e.kind in BRANDED_KINDS)
    return {brand for brand in stated if brand and brand not in settings.brands}


async def receive_events(request: web.Request) -> web.Response:
    """Canonical events, one or a batch, all-or-nothing: any invalid event refuses the batch, and
    an order event stating a brand that is not configured (while brands are) is refused 422. A
    stated brand is kept as stated; one stating none gets its brand from its sales channel."""
    app = request.app
    settings = app[SETTINGS]
    check_api_key(settings.api.api_keys, request.headers)
    require_json(request)
    raw = await raw_body(request, settings.api.max_body_bytes)
    result = parse_feed(API_SOURCE, raw, {}, app[CLOCK]())
    if result.problems:
        raise BadRequest(result.reason(), details=_problems(result.problems))
    if len(result.events) > settings.api.events_max_batch:
        raise BadRequest(
            f"{len(result.events)} events; at most {settings.api.events_max_batch} per request"
        )
    unknown = _unknown_brands(settings, result.events)
    if unknown:
        raise Unprocessable(
            f"unknown brand {', '.join(sorted(unknown))}: not one of the configured brands"
            " (docs/brands.md)",
            details=[{"brand": brand} for brand in sorted(unknown)],
        )
    messages = [
        (settings.topic(out.topic), out.key.encode(), out.value, None)
        for event in result.events
        for out in route(stamp_brand(settings, event))
    ]
    await write(app[PRODUCER], messages)
    body = {"status": "accepted", "event_ids": [e.event_id for e in result.events]}
    return json(body, status=202)
