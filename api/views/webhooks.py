"""Ingestion: signed webhooks from every source, and canonical events from integrations.

A webhook is checked in the order that costs least to refuse: known source, rate limit, content
type, size, signature over the raw bytes, then a parse to refuse what can never become events.
What passes is written *raw* to the raw topic (the normalise agent parses it again, so a parser
fix plus a replay re-reads exactly what was sent) and answered 202 once the broker has it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from api.auth import check_api_key
from api.deliveries import Claim
from api.errors import BadRequest, NotFound, TooManyRequests, Unauthorized, Unavailable
from api.kafka import write
from api.keys import CLOCK, DELIVERIES, METRICS, PRODUCER, SETTINGS, WEBHOOK_LIMITER
from api.views.body import raw_body, require_json
from carriers import registry
from carriers.base import ParseResult, Problem, Source
from carriers.canonical import parse_feed
from streams.routing import route
from streams.topics import RAW, RawPayload
from wismo.ids import digest

#: Headers that must not travel with the raw payload: credentials and hop-by-hop transport.
_NOT_FORWARDED = frozenset(
    {"authorization", "cookie", "host", "content-length", "connection", "transfer-encoding"}
)
API_SOURCE = "api"

log = logging.getLogger(__name__)


def _source(name: str) -> Source:
    if name not in registry.names():
        raise NotFound(f"unknown source {name!r}", details={"sources": list(registry.names())})
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


def _delivery_id(result: ParseResult, raw: bytes) -> str:
    # without a sender id, identical bodies are the same delivery
    return result.delivery_id or f"body:{digest(raw.hex())}"


async def receive_webhook(request: web.Request) -> web.Response:
    app = request.app
    settings, metrics = app[SETTINGS], app[METRICS]
    name = request.match_info["source"]
    source = _source(name)
    wait = app[WEBHOOK_LIMITER].take(name)
    if wait:
        metrics.webhooks.labels(name, "rate_limited").inc()
        raise TooManyRequests(f"rate limit for {name} exceeded", retry_after_s=wait)
    require_json(request)
    raw = await raw_body(request, settings.api.max_body_bytes)
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = app[CLOCK]()
    secrets = [s.get_secret_value() for s in settings.webhook_secrets.get(name, ())]
    if not secrets:
        metrics.webhooks.labels(name, "unauthorized").inc()
        raise Unauthorized(f"no webhook secret is configured for {name}")
    problem = source.verify(raw, headers, secrets, now)
    if problem is not None:
        metrics.webhooks.labels(name, "unauthorized").inc()
        raise Unauthorized(problem.message, details={"code": str(problem.code)})
    result = _parse(source, raw, headers, now)
    if result.fatal:
        metrics.webhooks.labels(name, "invalid").inc()
        raise BadRequest(result.reason(), details=_problems(result.problems))
    delivery_id = _delivery_id(result, raw)
    ledger = app[DELIVERIES]
    claim = await ledger.claim(name, delivery_id)
    if claim is Claim.DUPLICATE:
        metrics.webhooks.labels(name, "duplicate").inc()
        return web.json_response({"status": "duplicate", "delivery_id": delivery_id}, status=200)
    if claim is Claim.IN_FLIGHT:
        metrics.webhooks.labels(name, "in_flight").inc()
        raise Unavailable(f"delivery {delivery_id} is being written; retry shortly")
    payload = RawPayload(
        source=name,
        body=raw,
        received_at=now,
        content_type=request.content_type,
        delivery_id=delivery_id,
        http_headers={k: v for k, v in headers.items() if k not in _NOT_FORWARDED},
    )
    try:
        await write(
            app[PRODUCER],
            [(settings.topic(RAW), payload.key, payload.body, payload.kafka_headers())],
        )
    except Unavailable:
        await ledger.release(name, delivery_id)
        metrics.webhooks.labels(name, "unavailable").inc()
        raise
    await ledger.done(name, delivery_id)
    metrics.webhooks.labels(name, "accepted").inc()
    body = {
        "status": "accepted",
        "delivery_id": delivery_id,
        "events": len(result.events),
        "problems": _problems(result.problems),
    }
    return web.json_response(body, status=202)


async def receive_events(request: web.Request) -> web.Response:
    """Canonical events, one or a batch, all-or-nothing: any invalid event refuses the batch."""
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
    messages = [
        (settings.topic(out.topic), out.key.encode(), out.value, None)
        for event in result.events
        for out in route(event)
    ]
    await write(app[PRODUCER], messages)
    body = {"status": "accepted", "event_ids": [e.event_id for e in result.events]}
    return web.json_response(body, status=202)
