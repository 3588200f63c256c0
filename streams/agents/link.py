"""link: tracking events keyed by tracking number → joined to their order, or parked.

The tracking topic carries, per number, the scans and the shipments/returns naming it, in
partition order (see :mod:`streams.routing`): a shipment records the link and releases what was
parked; a scan with a known link is forwarded to the events topic with its order id, otherwise
parked (:class:`projections.links.LinkIndex`, the one implementation of the link, which the
timeline store and the API read too). Parked scans are dropped from Redis only after their
forwarded copies are acknowledged by the broker.

A batch costs a constant number of Redis round trips, whatever its size: one read of what the
batch needs, one write of its links and parked scans (:mod:`streams.linking` decides both from
the batch in partition order), and, when scans were released, one delete after the broker's
acknowledgement. Each step is retried on its own: the read before anything is written, so a
retried write repeats the same plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError

from projections.links import LinkIndex
from streams.context import StreamContext, retrying
from streams.linking import Plan, Tracked, needs, plan
from streams.metrics import StreamMetrics
from wismo.events import dump_event, parse_event
from wismo.topics import EVENTS

NAME = "link"

#: Queue one message on the events topic (key, value); returns the future of its delivery.
Send = Callable[[str, bytes], Awaitable[Awaitable[Any]]]


def register(ctx: StreamContext) -> None:
    settings = ctx.settings
    metrics = ctx.metrics

    async def send(key: str, value: bytes) -> Awaitable[Any]:
        return await ctx.send(NAME, EVENTS, key, value)

    async def link_agent(stream: Any) -> AsyncIterator[None]:
        index = await ctx.links()
        await retrying(index.adopt_legacy, metrics, "redis")  # keys of before December 2026
        await retrying(index.index_parked, metrics, "redis")  # parked before the index existed
        batches = ctx.batches(stream, NAME)
        async for batch in batches:
            metrics.batch_size.labels(NAME).observe(len(batch))
            tracked: list[Tracked] = []
            for message_event in batch:
                message = message_event.message
                try:
                    event = parse_event(message.value or b"")
                except ValidationError:
                    continue  # only normalise writes here, from validated events
                metrics.events_in.labels(NAME, event.kind.value).inc()
                tracked.append(Tracked((message.key or b"").decode(), event))
            await link_batch(index, tracked, send, metrics)
            yield None

    ctx.app.agent(ctx.topics.tracking, name=f"{settings.kafka.topic_prefix}.{NAME}")(link_agent)


async def link_batch(
    index: LinkIndex, batch: Sequence[Tracked], send: Send, metrics: StreamMetrics
) -> Plan:
    """Link, park and forward one batch; returns once every forward is acknowledged and the
    released scans are forgotten (so the batch's offsets may be committed)."""
    if not batch:
        return Plan()
    wanted = needs(batch)

    async def read() -> tuple[dict[str, str | None], dict[str, dict[str, bytes]]]:
        return await index.lookup(wanted.links, wanted.parked)

    known, parked = await retrying(read, metrics, "redis")
    decided = plan(batch, known, parked)

    async def write() -> None:
        await index.record(decided.links, decided.parks)

    await retrying(write, metrics, "redis")
    deliveries = [await send(order_id, dump_event(scan)) for order_id, scan in decided.forwards]
    await asyncio.gather(*deliveries)
    metrics.parked.inc(sum(len(scans) for scans in decided.parks.values()))
    if decided.released:
        metrics.released.inc(sum(len(ids) for ids in decided.released.values()))

        async def forget() -> None:
            await index.forget(decided.released)

        await retrying(forget, metrics, "redis")
    return decided
