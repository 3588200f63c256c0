"""cases: a Salesforce Service Cloud case for every escalated exception (``settings.cases``).

Runs in the ``notify`` role when ``cases.enabled``. It reads the events topic in its own right
(every agent of a Faust app sees every message of its topic), picks the ``exception.escalated``
events, and for each one opens the case and publishes ``exception.case_opened`` on the events
topic (:func:`streams.cases.opening.open_case`); what Salesforce refuses, or keeps failing,
becomes a dead letter with the reason, so the partition moves on. The timeline is read for the
exception's type, severity and order number, to word the case.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import ValidationError

from carriers.oauth import ClientCredentials, TokenRequest
from carriers.salesforce_om.cases import CaseTarget, ExceptionFacts
from projections.exception_flow import timeline_from_json
from streams.cases.client import CaseClient
from streams.cases.handled import HandledEscalations
from streams.cases.opening import Opened, Where, open_case
from streams.context import StreamContext, retrying
from wismo.events import ExceptionEscalatedEvent, dump_event, parse_event
from wismo.settings import CasesSettings
from wismo.topics import DEADLETTER, EVENTS

NAME = "cases"
log = logging.getLogger(__name__)
#: cheap test before decoding an event: only escalations open cases
_ESCALATED = b'"exception.escalated"'


def target_of(cases: CasesSettings) -> tuple[CaseTarget, TokenRequest]:
    """Where cases go and how to get a token; refuses settings that cannot work."""
    secret = cases.client_secret.get_secret_value() if cases.client_secret else ""
    if not (cases.instance_url and cases.client_id and secret):
        raise ValueError("cases.enabled needs cases.instance_url, client_id and client_secret")
    instance = cases.instance_url.rstrip("/")
    target = CaseTarget(instance, cases.api_version, cases.external_id_field, cases.origin)
    token_url = cases.token_url or f"{instance}/services/oauth2/token"
    return target, TokenRequest(token_url, cases.client_id, secret, False, {}, {})


def register(ctx: StreamContext) -> None:
    settings = ctx.settings
    if not settings.cases.enabled:
        return
    target, token_request = target_of(settings.cases)
    metrics = ctx.metrics

    async def facts(escalation: ExceptionEscalatedEvent) -> ExceptionFacts:
        store = await ctx.timeline_store()
        raw = await retrying(lambda: store.timeline(escalation.order_id or ""), metrics, "redis")
        if raw is None:
            return ExceptionFacts()
        timeline = timeline_from_json(raw)
        wanted = escalation.payload.exception_id
        view = next((v for v in timeline.exceptions if v.exception_id == wanted), None)
        if view is None:
            return ExceptionFacts(order_number=timeline.order_number)
        return ExceptionFacts(
            order_number=timeline.order_number,
            type=view.type.value if view.type else None,
            severity=view.severity.value if view.severity else None,
            subject=view.subject,
            message=view.message,
        )

    async def handle(message: Any, client: CaseClient, handled: HandledEscalations) -> None:
        value = message.value or b""
        if _ESCALATED not in value:
            return
        try:
            event = parse_event(value)
        except ValidationError:
            return  # only validated events are on this topic
        if not isinstance(event, ExceptionEscalatedEvent):
            return
        metrics.events_in.labels(NAME, event.kind.value).inc()
        step = functools.partial(
            open_case,
            event,
            value,
            client=client,
            handled=handled,
            facts=facts,
            now=lambda: datetime.now(UTC),
            where=Where(message.topic, message.partition, message.offset),
        )
        outcome = await retrying(step, metrics, "redis")  # Salesforce's upsert may repeat
        if outcome is None:
            return
        if isinstance(outcome, Opened):
            sent = outcome.event
            delivery = await ctx.send(NAME, EVENTS, sent.order_id, dump_event(sent))
        else:
            letter = outcome.letter
            log.warning("escalation dead-lettered: %s", letter.reason)
            metrics.dead_letters.labels(letter.source or NAME).inc()
            delivery = await ctx.send(NAME, DEADLETTER, letter.id, letter.to_json())
        await delivery
        remember = functools.partial(handled.remember, event.event_id, outcome.record)
        await retrying(remember, metrics, "redis")

    async def cases_agent(stream: Any) -> AsyncIterator[None]:
        handled = HandledEscalations(await ctx.redis(), settings.redis.key_prefix)
        async with aiohttp.ClientSession() as session:
            tokens = ClientCredentials(session, token_request)
            timeout_s = settings.cases.request_timeout_s
            client = CaseClient(session, target, tokens, timeout_s=timeout_s)
            batches = stream.take_events(
                settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
            )
            async for batch in batches:
                for item in batch:
                    await handle(item.message, client, handled)
                yield None

    ctx.app.agent(ctx.topics.events, name=f"{settings.kafka.topic_prefix}.{NAME}")(cases_agent)
