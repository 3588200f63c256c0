"""link: tracking events keyed by tracking number → joined to their order, or parked.

The tracking topic carries, per number, the scans and the shipments/returns naming it, in
partition order (see :mod:`streams.routing`): a shipment records the link and releases what was
parked; a scan with a known link is forwarded to the events topic with its order id, otherwise
parked (:class:`streams.links.LinkIndex`). Parked scans are dropped from Redis only after their
forwarded copies are acknowledged by the broker.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from pydantic import ValidationError

from streams.context import StreamContext, retrying
from streams.links import LinkIndex
from streams.routing import linked
from wismo.events import dump_event, parse_event
from wismo.topics import EVENTS

NAME = "link"


def register(ctx: StreamContext) -> None:
    settings = ctx.settings
    metrics = ctx.metrics

    async def link_agent(stream: Any) -> AsyncIterator[None]:
        index = await ctx.links()
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            metrics.batch_size.labels(NAME).observe(len(batch))
            deliveries: list[Awaitable[Any]] = []
            released: list[tuple[str, list[str]]] = []
            for message_event in batch:
                message = message_event.message
                number = (message.key or b"").decode()
                try:
                    event = parse_event(message.value or b"")
                except ValidationError:
                    continue  # only normalise writes here, from validated events
                metrics.events_in.labels(NAME, event.kind.value).inc()
                step = functools.partial(_one, ctx, index, number, event, deliveries, released)
                await retrying(step, metrics, "redis")
            await asyncio.gather(*deliveries)
            for number, event_ids in released:
                forget = functools.partial(index.forget_parked, number, event_ids)
                await retrying(forget, metrics, "redis")
            yield None

    ctx.app.agent(ctx.topics.tracking, name=f"{settings.kafka.topic_prefix}.{NAME}")(link_agent)


async def _one(
    ctx: StreamContext,
    index: LinkIndex,
    number: str,
    event: Any,
    deliveries: list[Awaitable[Any]],
    released: list[tuple[str, list[str]]],
) -> None:
    if event.order_id is not None:  # a shipment or return naming this number
        parked = await index.link(number, event.order_id)
        for raw in parked.values():
            scan = linked(parse_event(raw), event.order_id)
            deliveries.append(await ctx.send(NAME, EVENTS, event.order_id, dump_event(scan)))
        if parked:
            ctx.metrics.released.inc(len(parked))
            released.append((number, list(parked)))
        return
    order_id = await index.order_for(number)
    if order_id is None:
        await index.park(number, event.event_id, dump_event(event))
        ctx.metrics.parked.inc()
        return
    deliveries.append(await ctx.send(NAME, EVENTS, order_id, dump_event(linked(event, order_id))))
