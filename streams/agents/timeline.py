"""timeline: canonical events keyed by order id, in batches → the Redis store → timeline updates.

``RedisTimelineStore.apply`` is atomic and idempotent per order, so a batch replayed after a
crash changes nothing; a transient Redis failure holds the batch and retries it with backoff.
Every changed timeline is published on the timeline topic (the store also publishes it on Redis
pub/sub for the live push). The same atomic commit writes the agent console's search and
exception-queue index (:mod:`projections.agent_index`), so it is complete whatever API processes
run. The store leaves tracking links and parked scans to the link agent here.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from projections.store import TimelineChange
from streams.context import StreamContext, retrying
from streams.updates import encode_change
from wismo.deadletter import DeadLetter
from wismo.errors import describe_validation_error
from wismo.events import Event, parse_event
from wismo.topics import DEADLETTER, TIMELINE

NAME = "timeline"


def register(ctx: StreamContext) -> None:
    settings = ctx.settings
    metrics = ctx.metrics

    async def timeline_agent(stream: Any) -> AsyncIterator[None]:
        store = await ctx.timeline_store()
        batches = ctx.batches(stream, NAME)
        async for batch in batches:
            metrics.batch_size.labels(NAME).observe(len(batch))
            events, rejected = _decode(batch)
            deliveries: list[Awaitable[Any]] = []
            for letter in rejected:
                metrics.dead_letters.labels(letter.source or "unknown").inc()
                deliveries.append(await ctx.send(NAME, DEADLETTER, letter.id, letter.to_json()))
            if events:
                started = time.perf_counter()
                apply = functools.partial(store.apply, events)
                changes: list[TimelineChange] = await retrying(apply, metrics, "redis")
                metrics.count_data_quality(changes, events)
                # Orders the store reports unchanged may be a replay of a batch whose write
                # landed before a crash: pass their current state on, or the timeline topic
                # (and the ClickHouse facts fed from it) would never see that version.
                unchanged = sorted(
                    {e.order_id for e in events if e.order_id} - {c.order_id for c in changes}
                )
                if unchanged:
                    current = functools.partial(store.current, unchanged)
                    changes += await retrying(current, metrics, "redis")
                metrics.apply_seconds.labels("redis").observe(time.perf_counter() - started)
                for event in events:
                    metrics.events_in.labels(NAME, event.kind.value).inc()
                metrics.observe_freshness(events)
                for change in changes:
                    value = encode_change(change)
                    deliveries.append(await ctx.send(NAME, TIMELINE, change.order_id, value))
            await asyncio.gather(*deliveries)
            yield None

    ctx.app.agent(ctx.topics.events, name=f"{settings.kafka.topic_prefix}.{NAME}")(timeline_agent)


def _decode(batch: Sequence[Any]) -> tuple[list[Event], list[DeadLetter]]:
    """Valid canonical events, and a dead letter for anything else written to the topic."""
    events: list[Event] = []
    rejected: list[DeadLetter] = []
    now = datetime.now(UTC)
    for item in batch:
        message = item.message
        try:
            events.append(parse_event(message.value or b""))
        except (ValidationError, ValueError) as error:
            rejected.append(
                DeadLetter(
                    reason=f"not a canonical event: {describe_validation_error(error)}",
                    source=None,
                    raw=message.value or b"",
                    headers={},
                    failed_at=now,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                )
            )
    return events, rejected
