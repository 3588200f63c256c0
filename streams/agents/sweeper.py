"""sweeper: delivery exceptions, as timelines change and as the clock runs.

Two loops around the pure rules (:mod:`projections.exceptions`) and lifecycle
(:mod:`projections.exception_flow`):

* **event path** — an agent on the timeline topic: every changed timeline is reconciled (open
  what should be open, resolve what cleared) and its next clock check goes into the due index;
* **clock path** — a timer, every ``settings.sweeper.interval_s`` on every worker: take the
  orders whose check is due (leased, so two workers never take the same order), reconcile each
  at ``now`` and complete its lease with the next check.

Lifecycle events go to the events topic, keyed by order, so the timeline agent folds them into
the timeline and the warehouse keeps them in ClickHouse; a copy goes to the exceptions topic for
consumers that want only those. Their ids are deterministic, so the at-least-once redelivery of
a change, a sweep repeated after a crash or a race between the two paths adds nothing: folding
the events back in changes the timeline once, and the second pass over it finds nothing to do.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from projections.due_index import DueIndex, Lease
from projections.exception_flow import Outcome, exceptions_for_timeline, timeline_from_json
from projections.store import TimelineChange
from streams.context import TRANSIENT, StreamContext, retrying
from streams.updates import decode_change
from wismo.events import Event, dump_event
from wismo.settings import Settings
from wismo.topics import EVENTS, EXCEPTIONS

NAME = "sweeper"
log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Event]], Awaitable[None]]


class Timelines(Protocol):
    async def timeline(self, order_id: str) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    checked: int
    events: list[Event]


class ExceptionSweeper:
    """Both paths, on a timeline store, a due index and a way to publish events."""

    def __init__(
        self, timelines: Timelines, index: DueIndex, settings: Settings, publish: Publish
    ) -> None:
        self.timelines = timelines
        self.index = index
        self.thresholds = settings.thresholds
        self.limits = settings.sweeper
        self.publish = publish

    async def on_changes(self, changes: Sequence[TimelineChange], now: datetime) -> list[Event]:
        """The event path: reconcile changed timelines, publish, then schedule their checks."""
        settle = self.limits.settle_s
        outcomes = [self._reconciled(change.timeline, now, settle) for change in changes]
        events = [event for outcome in outcomes if outcome for event in outcome.events]
        await self.publish(events)
        await self.index.schedule_many(
            {outcome.order_id: outcome.next_check_at for outcome in outcomes if outcome}
        )
        return events

    async def sweep(self, now: datetime) -> SweepReport:
        """The clock path: one batch of due orders. Publishing comes before completing the
        leases, so a crash in between only means the orders are checked again."""
        leases = await self.index.take(now, self.limits.batch, self.limits.lease_s)
        if not leases:
            return SweepReport(0, [])
        documents = await asyncio.gather(*(self.timelines.timeline(x.order_id) for x in leases))
        outcomes: list[tuple[Lease, Outcome | None]] = [
            (lease, None if document is None else self._reconciled(document, now))
            for lease, document in zip(leases, documents, strict=True)
        ]
        events = [event for _, outcome in outcomes if outcome for event in outcome.events]
        await self.publish(events)
        for lease, outcome in outcomes:
            await self.index.complete(lease, outcome.next_check_at if outcome else None)
        return SweepReport(len(leases), events)

    def _reconciled(self, document: bytes, now: datetime, settle_s: float = 0.0) -> Outcome | None:
        try:
            timeline = timeline_from_json(document)
        except ValidationError as error:
            # a document this version cannot read: skipped (and logged), never a crash
            log.warning("skipping a timeline that does not decode: %s", error)
            return None
        return exceptions_for_timeline(timeline, now, self.thresholds, settle_s=settle_s)


def latest_per_order(changes: Sequence[TimelineChange]) -> list[TimelineChange]:
    """Within a batch only each order's newest timeline matters."""
    newest: dict[str, TimelineChange] = {}
    for change in changes:
        kept = newest.get(change.order_id)
        if kept is None or change.version >= kept.version:
            newest[change.order_id] = change
    return list(newest.values())


def register(ctx: StreamContext) -> None:
    settings = ctx.settings
    metrics = ctx.metrics
    built: list[ExceptionSweeper] = []

    async def publish(events: Sequence[Event]) -> None:
        deliveries: list[Awaitable[Any]] = []
        for event in events:
            value = dump_event(event)
            for logical in (EVENTS, EXCEPTIONS):
                deliveries.append(await ctx.send(NAME, logical, event.order_id, value))
        await asyncio.gather(*deliveries)

    async def sweeper() -> ExceptionSweeper:
        if not built:
            index = DueIndex(
                await ctx.redis(), settings.redis.key_prefix, url=settings.redis.url or "redis"
            )
            built.append(ExceptionSweeper(await ctx.timeline_store(), index, settings, publish))
        return built[0]

    async def exceptions_agent(stream: Any) -> AsyncIterator[None]:
        path = await sweeper()
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            changes: list[TimelineChange] = []
            for item in batch:
                try:
                    changes.append(decode_change(item.message.value or b""))
                except (KeyError, ValueError, TypeError) as error:
                    # only the timeline agent writes this topic; anything else is not ours
                    log.warning("skipping a message that is not a timeline change: %s", error)
            if changes:
                metrics.events_in.labels(NAME, "timeline").inc(len(changes))
                on_changes = functools.partial(
                    path.on_changes, latest_per_order(changes), datetime.now(UTC)
                )
                await retrying(on_changes, metrics, "redis")
            yield None

    async def sweep_tick(*_: Any) -> None:
        try:
            report = await (await sweeper()).sweep(datetime.now(UTC))
        except TRANSIENT as error:
            # the leases run out and the orders come back: the next tick retries
            metrics.retries.labels("redis").inc()
            log.warning("sweep failed, retrying next tick: %s", error)
            return
        if report.checked:
            log.info("swept %d due orders, %d exception events", report.checked, len(report.events))

    prefix = settings.kafka.topic_prefix
    ctx.app.agent(ctx.topics.timeline, name=f"{prefix}.{NAME}")(exceptions_agent)
    ctx.app.timer(settings.sweeper.interval_s, name=f"{prefix}.{NAME}.tick")(sweep_tick)
