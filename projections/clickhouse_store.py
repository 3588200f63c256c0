"""ClickHouse: the event log, the timelines and facts, a batching writer, and reads.

Idempotency: every insert carries ``insert_deduplication_token`` = a digest of the table and the
batch's rows (the tables set ``non_replicated_deduplication_window``), so the same batch sent
again — a retry after a timeout, a replay after a crash — is stored once. Batches that differ
but overlap collapse on merge (ReplacingMergeTree); reads that must be exact use ``FINAL`` or
deduplicate in Python with :func:`projections.ordering.dedupe`, like the Redis store.

The clickhouse-connect client is synchronous and chDB allows one engine per process, so every
call runs on the one worker thread of :class:`ClickHouse`, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from projections.clickhouse_schema import apply_ttls, migrate
from projections.connections import clickhouse_client, clickhouse_target
from projections.errors import StoreError, StoreUnavailable
from projections.facts import (
    EVENT_COLUMNS,
    EXCEPTION_COLUMNS,
    SHIPMENT_COLUMNS,
    TIMELINE_COLUMNS,
    Row,
    change_rows,
    event_row,
)
from projections.fold_fingerprint import fold_fingerprint
from projections.merge import with_order
from projections.notify.model import Record
from projections.ordering import canonical_sequence, dedupe, group_by_order
from projections.serialize import timeline_to_json
from projections.sla_notifications import NOTIFICATION_COLUMNS, notification_row
from projections.snapshots import LoggedEvent, OrderSource, Snapshot
from projections.store import TimelineChange
from projections.timeline import fold
from wismo.events import Event, parse_event
from wismo.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

COLUMNS = {
    "events": EVENT_COLUMNS,
    "timelines": TIMELINE_COLUMNS,
    "shipments": SHIPMENT_COLUMNS,
    "exceptions": EXCEPTION_COLUMNS,
    "notifications": NOTIFICATION_COLUMNS,
}


class ClickHouse:
    """A clickhouse-connect client used from asyncio, on one dedicated worker thread."""

    def __init__(self, client: Any, database: str, *, target: str = "clickhouse") -> None:
        self.client = client
        self.database = database
        self.target = target
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._owns_client = False

    @classmethod
    async def connect(cls, settings: Settings, *, migrate_schema: bool = True) -> ClickHouse:
        """Open the configured ClickHouse (HTTP or chDB) and bring its schema up to date."""
        ch = cls(None, settings.clickhouse.database, target=clickhouse_target(settings))
        ch.client = await ch.run(clickhouse_client, settings)
        ch._owns_client = True
        if migrate_schema:
            await ch.run(migrate, ch.client, ch.database)
            await ch.run(apply_ttls, ch.client, ch.database, settings.retention.clickhouse_days)
        return ch

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn`` on the ClickHouse thread; driver errors become :class:`StoreError`."""
        from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))
        except OperationalError as error:
            raise StoreUnavailable("ClickHouse", self.target, error) from error
        except ClickHouseError as error:
            raise StoreError(f"ClickHouse at {self.target}: {error}") from error

    async def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        """Rows of a query; ``{db}`` in ``sql`` is the database, ``{name:Type}`` a parameter."""
        query = sql.replace("{db}", self.database)
        result = await self.run(self.client.query, query, parameters=parameters)
        return list(result.result_rows)

    def insert_now(self, table: str, rows: Sequence[Row], token: str) -> None:
        self.client.insert(
            table,
            list(rows),
            column_names=list(COLUMNS[table]),
            database=self.database,
            settings={"insert_deduplication_token": token},
        )

    async def close(self) -> None:
        if self._owns_client and self.client is not None:
            await self.run(self.client.close)
        self._thread.shutdown(wait=True)


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows bound for one table with the token that makes re-sending them harmless."""

    table: str
    rows: tuple[Row, ...]
    token: str

    @classmethod
    def of(cls, table: str, rows: Iterable[Row]) -> Batch:
        frozen = tuple(rows)
        digest = hashlib.sha256(repr((table, frozen)).encode()).hexdigest()[:32]
        return cls(table, frozen, f"{table}:{len(frozen)}:{digest}")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retries of a transient failure: ``attempts`` tries, waits doubling up to ``max_s``."""

    attempts: int = 5
    first_s: float = 0.1
    max_s: float = 5.0

    def waits(self) -> list[float]:
        return [min(self.first_s * 2**n, self.max_s) for n in range(self.attempts - 1)]


class ClickHouseWriter:
    """Buffers rows per table and inserts them in batches, on size or time, or on ``flush()``.

    ``flush()`` returns only when everything buffered so far is stored: the stream calls it
    before committing its offsets. A batch that fails is retried with backoff under the same
    token; if it still fails, :class:`StoreUnavailable` is raised and the batch stays queued,
    unchanged, for the next flush — never lost, never doubled.
    """

    def __init__(
        self,
        ch: ClickHouse,
        *,
        batch_rows: int = 5000,
        batch_interval_s: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.ch = ch
        self.batch_rows = batch_rows
        self.batch_interval_s = batch_interval_s
        self.backoff = backoff or Backoff()
        self._buffers: dict[str, list[Row]] = {table: [] for table in COLUMNS}
        self._queued: list[Batch] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self.rows_written = 0

    @classmethod
    def from_settings(cls, ch: ClickHouse, settings: Settings) -> ClickHouseWriter:
        return cls(
            ch,
            batch_rows=settings.clickhouse.batch_rows,
            batch_interval_s=settings.clickhouse.batch_interval_s,
        )

    @property
    def pending_rows(self) -> int:
        queued = sum(len(batch.rows) for batch in self._queued)
        return queued + sum(len(rows) for rows in self._buffers.values())

    async def add_events(self, events: Iterable[Event]) -> None:
        self._buffers["events"] += [event_row(event) for event in events]
        await self._flush_if_full()

    async def add_changes(self, changes: Sequence[TimelineChange]) -> None:
        """Timelines and their facts (shipments, exceptions) for changed orders."""
        for table, rows in change_rows(changes).items():
            self._buffers[table] += rows
        await self._flush_if_full()

    async def add_notifications(self, records: Iterable[Record]) -> None:
        """Notification outcomes (the notify role's records)."""
        self._buffers["notifications"] += [notification_row(record) for record in records]
        await self._flush_if_full()

    async def _flush_if_full(self) -> None:
        if self.pending_rows >= self.batch_rows:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            for table, rows in self._buffers.items():
                for start in range(0, len(rows), self.batch_rows):
                    self._queued.append(Batch.of(table, rows[start : start + self.batch_rows]))
                rows.clear()
            while self._queued:
                batch = self._queued[0]
                await self._insert(batch)
                self._queued.pop(0)
                self.rows_written += len(batch.rows)

    async def _insert(self, batch: Batch) -> None:
        for wait in [*self.backoff.waits(), None]:
            try:
                await self.ch.run(self.ch.insert_now, batch.table, batch.rows, batch.token)
                return
            except Exception as error:  # the drivers raise many types for transient failures
                if wait is None:
                    raise StoreUnavailable("ClickHouse", self.ch.target, error) from error
                log.warning(
                    "insert into %s failed (%s); retrying in %.1fs", batch.table, error, wait
                )
                await asyncio.sleep(wait)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.batch_interval_s)
            if self.pending_rows:
                try:
                    await self.flush()
                except StoreUnavailable as error:
                    log.error("%s; keeping %d rows for the next flush", error, self.pending_rows)

    def start(self) -> None:
        """Flush on time as well as on size (a background task on the running loop)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        """Stop the timer and flush what is left."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    async def __aenter__(self) -> ClickHouseWriter:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_ORDER_EVENTS = """
SELECT event_json FROM {db}.events
WHERE order_id = {order:String}
   OR (order_id = '' AND tracking_number IN
       (SELECT arrayJoin(links) FROM {db}.events WHERE order_id = {order:String}))
"""
_OWNERS = """
SELECT number, any(order_id) FROM {db}.events ARRAY JOIN links AS number
WHERE order_id != '' AND number IN {numbers:Array(String)}
GROUP BY number
"""
# every event with the order it belongs to (scans through the shipment naming them), and each
# order's latest timeline snapshot when the fold named by {fold} wrote it, by order: per order
# its snapshot row (kind 0) first, then its events (kind 1)
_ALL_ORDER_SOURCES = """
WITH owners AS (
    SELECT number, any(order_id) AS owner FROM {db}.events ARRAY JOIN links AS number
    WHERE order_id != '' GROUP BY number
)
SELECT oid, kind, id, linked, links, payload, version, status FROM (
    SELECT if(e.order_id = '', o.owner, e.order_id) AS oid, 1 AS kind, e.event_id AS id,
           e.order_id != '' AS linked, e.links AS links, e.event_json AS payload,
           toUInt64(0) AS version, '' AS status
    FROM {db}.events AS e LEFT JOIN owners AS o ON e.tracking_number = o.number
    WHERE oid != '' AND ({order:String} = '' OR oid = {order:String})
    UNION ALL
    SELECT order_id AS oid, 0 AS kind, digest AS id, true AS linked, [] AS links,
           timeline_json AS payload, version, toString(status) AS status
    FROM {db}.timelines FINAL
    WHERE {fold:String} != '' AND fold = {fold:String}
      AND ({order:String} = '' OR order_id = {order:String})
)
ORDER BY oid, kind
"""


class ClickHouseStore:
    """The event log and timelines as a :class:`~projections.store.ProjectionStore`.

    A scan that names no known shipment is logged unlinked; it joins its order in the first
    fold after a shipment naming its tracking number is logged. Each apply writes the events,
    then refolds the touched orders from the log and writes the timelines that changed: a crash
    in between is repaired by the next apply of any of those events.
    """

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self.writer = ClickHouseWriter(ch, batch_rows=50_000)

    async def apply(self, events: Sequence[Event]) -> list[TimelineChange]:
        by_order, unlinked = group_by_order(events)
        numbers = sorted({e.tracking_number for e in unlinked if e.tracking_number})
        owners = dict(await self.ch.rows(_OWNERS, numbers=numbers)) if numbers else {}
        for event in unlinked:
            owner = owners.get(event.tracking_number)
            if owner is not None:
                by_order.setdefault(owner, []).append(with_order(event, owner))
        await self.writer.add_events(events)
        await self.writer.flush()
        changes = []
        for order_id in by_order:
            timeline = fold(await self.events(order_id), order_id)
            document = timeline_to_json(timeline)
            if document != await self.timeline(order_id):
                status = timeline.status.value
                changes.append(
                    TimelineChange(
                        order_id,
                        timeline.version,
                        timeline.digest,
                        status,
                        document,
                        fold_fingerprint(),
                    )
                )
        await self.writer.add_changes(changes)
        await self.writer.flush()
        return changes

    async def timeline(self, order_id: str) -> bytes | None:
        rows = await self.ch.rows(
            "SELECT timeline_json FROM {db}.timelines FINAL WHERE order_id = {order:String}",
            order=order_id,
        )
        return rows[0][0].encode() if rows else None

    async def events(self, order_id: str) -> list[Event]:
        rows = await self.ch.rows(_ORDER_EVENTS, order=order_id)
        return canonical_sequence(with_order(parse_event(row[0]), order_id) for row in rows)

    async def applied_ids(self, order_id: str) -> frozenset[str]:
        return frozenset(event.event_id for event in await self.events(order_id))

    async def count_events(self) -> int:
        """Distinct events in the log."""
        rows = await self.ch.rows("SELECT uniqExact(event_id) FROM {db}.events")
        return int(rows[0][0])

    async def order_sources(
        self, order_id: str | None = None, *, fold: str = ""
    ) -> AsyncIterator[OrderSource]:
        """Every order (or one) with every logged copy of its events, streamed in order-id
        order (a tracking event is listed under the order whose shipment names it), and with
        its latest timeline snapshot when ``fold`` (a fold fingerprint; ``""``: none) wrote it.
        An order the log holds no event of is not listed."""
        queue: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(maxsize=4)
        loop = asyncio.get_running_loop()

        def produce() -> None:
            sql = _ALL_ORDER_SOURCES.replace("{db}", self.ch.database)
            try:
                with self.ch.client.query_row_block_stream(
                    sql,
                    parameters={"order": order_id or "", "fold": fold},
                    column_formats={"payload": "bytes"},  # the JSON goes on as it is
                ) as stream:
                    for block in stream:
                        asyncio.run_coroutine_threadsafe(queue.put(block), loop).result()
            finally:
                asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

        producer = asyncio.ensure_future(self.ch.run(produce))
        current = OrderSource("")
        finished = False
        try:
            while (block := await queue.get()) is not None:
                for oid, kind, id_, linked, links, payload, version, status in block:
                    if oid != current.order_id:
                        if current.events:
                            yield current
                        current = OrderSource(oid)
                    if kind == 0:
                        current.snapshot = Snapshot(int(version), id_, status, payload)
                    else:
                        current.events.append(LoggedEvent(id_, payload, bool(linked), tuple(links)))
            finished = True
            if current.events:
                yield current
        finally:
            # a consumer that stops early must not leave the producer blocked on a full queue
            while not finished:
                finished = await queue.get() is None
            await producer

    async def order_documents(
        self, order_id: str | None = None
    ) -> AsyncIterator[tuple[str, list[bytes]]]:
        """Every order (or one) with the JSON of its logged events (copies included), in
        order-id order (:meth:`order_sources` without snapshots)."""
        async for source in self.order_sources(order_id):
            yield source.order_id, source.documents

    async def order_events(
        self, order_id: str | None = None
    ) -> AsyncIterator[tuple[str, list[Event]]]:
        """Every order (or one) with its distinct logged events, in order-id order."""
        async for oid, documents in self.order_documents(order_id):
            events = dedupe(with_order(parse_event(d), oid) for d in documents)
            yield oid, list(events.values())

    async def close(self) -> None:
        await self.writer.flush()
