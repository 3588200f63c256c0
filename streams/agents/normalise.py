"""normalise: raw payloads → canonical events (via the carriers registry) → routed topics.

Whatever cannot be parsed becomes a dead-letter record; the partition always moves on. An
order.placed / order.changed that states no brand gets its order's brand
(:func:`wismo.brands.stamp_brand`): the brand whose webhook secret signed the raw record (a header
the API wrote on it, so a replay finds the same), else the brand of its sales channel.

With ``kafka.direct_linked_scans`` (the default) a scan whose number is already linked goes
straight to the events topic with its order id (:func:`streams.routing.direct`): the batch's
numbers are looked up in one Redis round trip. If Redis does not answer within
:data:`LOOKUP_WAIT_S`, every scan takes the link agent's way, as without the setting, and no
lookup is tried for :data:`PAUSE_S`: normalising never stalls on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

from projections.errors import StoreError
from streams.context import StreamContext
from streams.routing import Where, direct, normalise, scan_numbers
from wismo.brands import SIGNED_BRAND_HEADER, stamp_brand
from wismo.events import Event
from wismo.topics import DEADLETTER, Outgoing, decode_headers, route

log = logging.getLogger(__name__)

#: the longest a batch waits for its numbers' links
LOOKUP_WAIT_S = 0.5
#: after a lookup that failed, how long scans go through the link agent without trying again
PAUSE_S = 5.0

NAME = "normalise"


def register(ctx: StreamContext) -> None:
    metrics = ctx.metrics
    settings = ctx.settings

    paused_until = 0.0

    async def lookup(numbers: list[str]) -> dict[str, str]:
        return await (await ctx.links()).orders(numbers)

    async def outgoing(events: list[Event]) -> list[Outgoing]:
        nonlocal paused_until
        wanted = settings.kafka.direct_linked_scans and time.monotonic() >= paused_until
        numbers = scan_numbers(events) if wanted else []
        if not numbers:
            return [out for event in events for out in route(event)]
        try:
            links = await asyncio.wait_for(lookup(numbers), LOOKUP_WAIT_S)
        except (StoreError, TimeoutError) as error:  # the link agent's way needs no Redis here
            paused_until = time.monotonic() + PAUSE_S
            log.warning("scans go through the link agent: Redis did not answer (%r)", error)
            return [out for event in events for out in route(event)]
        metrics.direct_scans.inc(
            sum(1 for e in events if e.order_id is None and e.tracking_number in links)
        )
        return direct(events, links)

    async def normalise_agent(stream: Any) -> AsyncIterator[None]:
        batches = ctx.batches(stream, NAME)
        async for batch in batches:
            metrics.batch_size.labels(NAME).observe(len(batch))
            now = datetime.now(UTC)
            deliveries: list[Awaitable[Any]] = []
            canonical_events: list[Event] = []
            for event in batch:
                message = event.message
                where = Where(message.topic, message.partition, message.offset)
                headers = decode_headers(message.headers)
                outcome = normalise(message.value or b"", headers, where, now)
                signed_by = headers.get(f"http-{SIGNED_BRAND_HEADER}") or None
                source = outcome.source or "unknown"
                if outcome.unmapped_codes:
                    metrics.unmapped_codes.labels(source).inc(len(outcome.unmapped_codes))
                for parsed in outcome.events:
                    canonical = stamp_brand(settings, parsed, signed_by)
                    metrics.events_in.labels(NAME, canonical.kind.value).inc()
                    canonical_events.append(canonical)
                if outcome.dead_letter is not None:
                    letter = outcome.dead_letter
                    metrics.dead_letters.labels(source).inc()
                    deliveries.append(await ctx.send(NAME, DEADLETTER, letter.id, letter.to_json()))
            for out in await outgoing(canonical_events):
                deliveries.append(await ctx.send(NAME, out.topic, out.key, out.value))
            await asyncio.gather(*deliveries)
            yield None

    ctx.app.agent(ctx.topics.raw, name=f"{ctx.settings.kafka.topic_prefix}.{NAME}")(normalise_agent)
