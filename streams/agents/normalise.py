"""normalise: raw payloads → canonical events (via the carriers registry) → routed topics.

Whatever cannot be parsed becomes a dead-letter record; the partition always moves on. An
order.placed / order.changed that states no brand gets its order's brand
(:func:`wismo.brands.stamp_brand`): the brand whose webhook secret signed the raw record (a header
the API wrote on it, so a replay finds the same), else the brand of its sales channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

from streams.context import StreamContext
from streams.routing import Where, normalise
from wismo.brands import SIGNED_BRAND_HEADER, stamp_brand
from wismo.topics import DEADLETTER, decode_headers, route

NAME = "normalise"


def register(ctx: StreamContext) -> None:
    metrics = ctx.metrics
    settings = ctx.settings

    async def normalise_agent(stream: Any) -> AsyncIterator[None]:
        batches = ctx.batches(stream, NAME)
        async for batch in batches:
            metrics.batch_size.labels(NAME).observe(len(batch))
            now = datetime.now(UTC)
            deliveries: list[Awaitable[Any]] = []
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
                    for out in route(canonical):
                        deliveries.append(await ctx.send(NAME, out.topic, out.key, out.value))
                if outcome.dead_letter is not None:
                    letter = outcome.dead_letter
                    metrics.dead_letters.labels(source).inc()
                    deliveries.append(await ctx.send(NAME, DEADLETTER, letter.id, letter.to_json()))
            await asyncio.gather(*deliveries)
            yield None

    ctx.app.agent(ctx.topics.raw, name=f"{ctx.settings.kafka.topic_prefix}.{NAME}")(normalise_agent)
