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

**Stalled first**: with a poll index (the ``poll`` role configured), a "stalled" exception about
to open for a polled parcel is held back instead: the parcel is re-polled at once and the order
checked again after :func:`recheck_grace_s`; only if it is still stalled then does the exception
open (:func:`projections.poll.stalled.stalled_first`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from projections.due_index import DueIndex, Lease
from projections.exception_flow import Outcome, exceptions_for_timeline, timeline_from_json
from projections.poll.index import PollIndex
from projections.poll.stalled import stalled_first
from projections.predict.live import ModelCache, awaits_recheck, predictions_for_timeline
from projections.predict.model import Model
from projections.store import TimelineChange
from projections.timeline_model import Timeline
from streams.context import TRANSIENT, StreamContext, retrying
from streams.predict_models import latest_model_loader
from streams.updates import decode_changes
from wismo.events import Event, EventKind, dump_event
from wismo.settings import Settings
from wismo.topics import EVENTS, EXCEPTIONS
from wismo.vocab import ExceptionType

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
        self,
        timelines: Timelines,
        index: DueIndex,
        settings: Settings,
        publish: Publish,
        polls: PollIndex | None = None,
        models: ModelCache | None = None,
    ) -> None:
        self.timelines = timelines
        self.models = models
        self.index = index
        self.thresholds = settings.thresholds
        self.predict = settings.predict
        self.limits = settings.sweeper
        self.publish = publish
        self.polls = polls
        self.recheck_grace_s = recheck_grace_s(settings)

    async def on_changes(self, changes: Sequence[TimelineChange], now: datetime) -> list[Event]:
        """The event path: reconcile changed timelines, publish, then schedule their checks."""
        settle = self.limits.settle_s
        model = await self._model(now)
        outcomes = [
            await self._stalled_first(self._reconciled(change.timeline, now, settle, model), now)
            for change in changes
        ]
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
        model = await self._model(now)
        outcomes: list[tuple[Lease, Outcome | None]] = [
            (lease, await self._stalled_first(self._reconciled(document, now, 0.0, model), now))
            for lease, document in zip(leases, documents, strict=True)
        ]
        events = [event for _, outcome in outcomes if outcome for event in outcome.events]
        await self.publish(events)
        for lease, outcome in outcomes:
            await self.index.complete(lease, outcome.next_check_at if outcome else None)
        return SweepReport(len(leases), events)

    async def _model(self, now: datetime) -> Model | None:
        return None if self.models is None else await self.models.current(now)

    def _reconciled(
        self,
        document: bytes | None,
        now: datetime,
        settle_s: float = 0.0,
        model: Model | None = None,
    ) -> tuple[Timeline, Outcome] | None:
        if document is None:
            return None
        try:
            timeline = timeline_from_json(document)
        except ValidationError as error:
            # a document this version cannot read: skipped (and logged), never a crash
            log.warning("skipping a timeline that does not decode: %s", error)
            return None
        outcome = exceptions_for_timeline(
            timeline, now, self.thresholds, settle_s=settle_s, predict=self.predict
        )
        return timeline, self._predicted(timeline, outcome, now, model)

    def _predicted(
        self, timeline: Timeline, outcome: Outcome, now: datetime, model: Model | None
    ) -> Outcome:
        """The outcome plus the timeline's changed delivery estimates; a promised parcel on its
        way is looked at again after ``predict.recheck_s`` (its chance of being late moves with
        the clock alone)."""
        grace = self.thresholds.late_grace_hours
        predicted = predictions_for_timeline(timeline, model, now, grace_hours=grace)
        check = outcome.next_check_at
        if predicted or awaits_recheck(timeline, model, now, grace_hours=grace):
            recheck = now + timedelta(seconds=self.predict.recheck_s)
            check = recheck if check is None else min(check, recheck)
        if not predicted and check == outcome.next_check_at:
            return outcome
        return replace(outcome, events=[*outcome.events, *predicted], next_check_at=check)

    async def _stalled_first(
        self, reconciled: tuple[Timeline, Outcome] | None, now: datetime
    ) -> Outcome | None:
        """The outcome, less the stalled openings held back for a re-poll (checked again when
        their grace ends)."""
        if reconciled is None:
            return None
        timeline, outcome = reconciled
        if self.polls is None:
            return outcome
        kept: list[Event] = []
        holds = [outcome.next_check_at] if outcome.next_check_at else []
        for event in outcome.events:
            shipment = _stalled_shipment(event)
            held = None if shipment is None else await self._recheck(timeline, shipment, event, now)
            if held is None:
                kept.append(event)
            else:
                holds.append(held)
        return Outcome(outcome.order_id, kept, min(holds, default=None))

    async def _recheck(
        self, timeline: Timeline, shipment_id: str, opening: Event, now: datetime
    ) -> datetime | None:
        """Until when the opening waits for its parcels' re-polls (``None``: open now)."""
        assert self.polls is not None
        numbers = [
            number
            for shipment in timeline.shipments
            if shipment.shipment_id == shipment_id
            for number in {
                shipment.tracking_number,
                *(p.tracking_number for p in shipment.packages),
            }
            if number
        ]
        holds = []
        for number in sorted(numbers):
            info = await self.polls.info(number)
            decision = stalled_first(info, opening.occurred_at, now, self.recheck_grace_s)
            if decision.request:
                await self.polls.request_now(number, now)
            if decision.hold_until is not None:
                holds.append(decision.hold_until)
        return max(holds, default=None)


def recheck_grace_s(settings: Settings) -> float:
    """How long a stalled opening waits for a re-poll: the poll round that takes it, the lease
    it must finish within, and the settling time for its events to reach the timeline."""
    poll = settings.poll
    return poll.interval_s + poll.lease_s + settings.sweeper.settle_s


def _stalled_shipment(event: Event) -> str | None:
    """The shipment a "stalled" opening is about, or ``None`` for any other event."""
    if event.kind is not EventKind.EXCEPTION_OPENED:
        return None
    payload: Any = event.payload
    return payload.subject if payload.type is ExceptionType.STALLED else None


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
            # delivery estimates are not exception events: the events topic only
            logicals = (
                (EVENTS,) if event.kind is EventKind.SHIPMENT_PREDICTED else (EVENTS, EXCEPTIONS)
            )
            for logical in logicals:
                deliveries.append(await ctx.send(NAME, logical, event.order_id, value))
        await asyncio.gather(*deliveries)

    async def sweeper() -> ExceptionSweeper:
        if not built:
            index = DueIndex(
                await ctx.redis(), settings.redis.key_prefix, url=settings.redis.url or "redis"
            )
            polls = None
            if settings.poll.carriers:  # the poll role re-checks parcels before they stall
                polls = PollIndex(
                    await ctx.redis(), settings.redis.key_prefix, url=settings.redis.url or "redis"
                )
            store = await ctx.timeline_store()
            models = ModelCache(latest_model_loader(settings), settings.predict.reload_s)
            built.append(ExceptionSweeper(store, index, settings, publish, polls, models))
        return built[0]

    async def exceptions_agent(stream: Any) -> AsyncIterator[None]:
        path = await sweeper()
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            changes = decode_changes(item.message.value for item in batch)
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
