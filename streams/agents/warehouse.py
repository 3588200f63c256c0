"""warehouse: canonical events, unlinked scans, timeline changes and notification outcomes →
ClickHouse, in its own consumer group.

It is a plain aiokafka consumer loop rather than a Faust agent for two reasons: it must commit
its offsets *after* the ClickHouse flush (the flush runs first, then the commit, every batch),
and it must never slow the live path — its own group, its own fetches, and ClickHouse calls on a
thread (chDB has no async client), so the Redis timeline never waits for it.

A failed flush is retried with backoff and the offsets do not move until it succeeds; the
writer's dedup (event ids, ``insert_deduplication_token``) makes a re-delivered batch harmless.
A scan is logged unlinked when it is parked and again, linked, when it is released; the events
table keeps the linked copy (``ReplacingMergeTree(linked)``).

Notification records (the notify role's outcomes) go to the ``notifications`` table, where a
record read twice counts once (``(message_id, state)``); a record that does not decode is
dead-lettered, and its dead letter is delivered before the offsets move past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from mode import Service
from pydantic import ValidationError

from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.errors import StoreUnavailable
from projections.notify.model import Record
from projections.sla_notifications import unstorable
from projections.store import TimelineChange
from streams.context import StreamContext
from streams.notify.records import decode_record
from streams.updates import decode_change
from wismo.deadletter import DeadLetter
from wismo.events import Event, parse_event
from wismo.topics import DEADLETTER, EVENTS, NOTIFICATIONS, TIMELINE, TRACKING, decode_headers

NAME = "warehouse"
log = logging.getLogger(__name__)
MAX_BACKOFF_S = 5.0


def group_of(ctx: StreamContext) -> str:
    """The warehouse's consumer group: one per deployment, whichever process holds the role."""
    return f"{ctx.settings.kafka.topic_prefix}-{NAME}"


def register(ctx: StreamContext, *, group: str | None = None) -> None:
    ctx.attach(WarehouseService(ctx, group=group or group_of(ctx)))


class WarehouseService(Service):
    def __init__(self, ctx: StreamContext, *, group: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.group = group
        self.settings = ctx.settings
        self._consumer: Any = None
        self._ch: ClickHouse | None = None
        self._writer: ClickHouseWriter | None = None
        self._consuming: asyncio.Future[Any] | None = None

    async def on_start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        settings = self.settings
        self._ch = await ClickHouse.connect(settings)
        # no timer: this loop flushes, then commits, so offsets never pass unflushed rows
        self._writer = ClickHouseWriter(
            self._ch,
            batch_rows=settings.clickhouse.batch_rows,
            batch_interval_s=settings.clickhouse.batch_interval_s,
        )
        kafka = settings.kafka
        self._consumer = AIOKafkaConsumer(
            *(settings.topic(name) for name in (EVENTS, TRACKING, TIMELINE, NOTIFICATIONS)),
            bootstrap_servers=kafka.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(kafka.session_timeout_s * 1000),
            heartbeat_interval_ms=int(kafka.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(kafka.rebalance_timeout_s * 1000),
            max_poll_records=settings.clickhouse.batch_rows,
        )
        await self._consumer.start()
        self._consuming = self.add_future(self._consume())

    async def on_stop(self) -> None:
        # the loop ends after its current fetch (should_stop is set); what it fetched is then
        # flushed and committed, so a stop leaves no row behind in the writer
        if self._consuming is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(
                    asyncio.shield(self._consuming), self.settings.clickhouse.batch_interval_s + 5
                )
        if self._writer is not None and self._writer.pending_rows and self._loop_done():
            try:
                await self._writer.flush()
                await self._commit()
            except StoreUnavailable as error:  # not committed: re-read at the next start
                log.warning("warehouse: rows not flushed at stop: %s", error)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._ch is not None:
            await self._ch.close()

    def _loop_done(self) -> bool:
        return self._consuming is None or self._consuming.done()

    async def _consume(self) -> None:
        assert self._writer is not None
        writer = self._writer
        settings = self.settings
        timeline_topic = settings.topic(TIMELINE)
        tracking_topic = settings.topic(TRACKING)
        notifications_topic = settings.topic(NOTIFICATIONS)
        interval = settings.clickhouse.batch_interval_s
        first_at: float | None = None
        while not self.should_stop:
            fetched = await self._consumer.getmany(timeout_ms=int(interval * 1000))
            events: list[Event] = []
            changes: list[TimelineChange] = []
            records: list[Record] = []
            letters: list[DeadLetter] = []
            for tp, messages in fetched.items():
                for message in messages:
                    if tp.topic == notifications_topic:
                        _decode_record_into(message, records, letters)
                        continue
                    _decode_into(
                        message.value or b"",
                        tp.topic == timeline_topic,
                        tp.topic == tracking_topic,
                        events,
                        changes,
                    )
            # a flush the writer starts on size may fail: its rows stay queued in the writer and
            # _flush_then_commit below retries them before any offset moves
            if events:
                self._count(events)
                with contextlib.suppress(StoreUnavailable):
                    await writer.add_events(events)
            if changes:
                with contextlib.suppress(StoreUnavailable):
                    await writer.add_changes(changes)
            if records:
                with contextlib.suppress(StoreUnavailable):
                    await writer.add_notifications(records)
            if letters:  # delivered before any offset moves past the bad records
                await self._dead_letter(letters)
            if first_at is None and fetched:
                first_at = time.monotonic()
            full = writer.pending_rows >= settings.clickhouse.batch_rows
            if first_at is not None and (full or time.monotonic() - first_at >= interval):
                await self._flush_then_commit(writer)
                first_at = None

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        deliveries: list[Awaitable[Any]] = []
        for letter in letters:
            self.ctx.metrics.dead_letters.labels(letter.source or "unknown").inc()
            deliveries.append(await self.ctx.send(NAME, DEADLETTER, letter.id, letter.to_json()))
        await asyncio.gather(*deliveries)

    def _count(self, events: list[Event]) -> None:
        for event in events:
            self.ctx.metrics.events_in.labels(NAME, event.kind.value).inc()

    async def _flush_then_commit(self, writer: ClickHouseWriter) -> None:
        pending = writer.pending_rows
        started = time.perf_counter()
        delay = 0.1
        while True:
            try:
                await writer.flush()
                break
            except StoreUnavailable as error:  # the batch stays queued in the writer
                self.ctx.metrics.retries.labels("clickhouse").inc()
                log.warning("clickhouse unavailable, retrying in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
        self.ctx.metrics.apply_seconds.labels("clickhouse").observe(time.perf_counter() - started)
        self.ctx.metrics.batch_size.labels(NAME).observe(pending)
        await self._commit()

    async def _commit(self) -> None:
        from aiokafka.errors import CommitFailedError, IllegalStateError

        try:
            await self._consumer.commit()
        except (CommitFailedError, IllegalStateError) as error:
            # a rebalance took the partitions: the new owner re-reads and the writes dedupe
            log.warning("warehouse commit skipped after a rebalance: %s", error)


def _decode_into(
    value: bytes,
    timeline_topic: bool,
    tracking_topic: bool,
    events: list[Event],
    changes: list[TimelineChange],
) -> None:
    try:
        if timeline_topic:
            changes.append(decode_change(value))
            return
        event = parse_event(value)
    except (ValidationError, ValueError, KeyError) as error:
        # the timeline agent dead-letters invalid events; the warehouse only skips them
        log.warning("warehouse skipped an undecodable message: %s", error)
        return
    # on the tracking topic only scans not yet linked are new: shipments naming a number are
    # also on the events topic, and a scan's linked copy follows there once it is linked
    if not tracking_topic or event.order_id is None:
        events.append(event)


def _decode_record_into(message: Any, records: list[Record], letters: list[DeadLetter]) -> None:
    """A notification record, or a dead letter saying why the bytes are not one."""
    value = message.value or b""
    try:
        record = decode_record(value)
        problem = unstorable(record)
    except (ValueError, TypeError, ArithmeticError) as error:  # int(inf): OverflowError
        problem = str(error)
    else:
        if problem is None:
            records.append(record)
            return
    letters.append(
        DeadLetter(
            reason=f"not a notification record: {problem}",
            source=None,
            raw=value,
            headers=decode_headers(message.headers),
            failed_at=datetime.now(UTC),
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
    )
