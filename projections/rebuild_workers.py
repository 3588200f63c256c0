"""Rebuilding processes: each folds whole orders *and writes them to Redis itself*.

The reading process only streams the log (with chDB it is the one process that may open it) and
hands out chunks of whole orders; a worker prepares each order's commit (from its snapshot where
one stands in for a refold, see :func:`prepare_chunk`; else parsing, folding and encoding) and
commits them on a Redis connection of its own, sending back nothing but counts. So the parent
neither re-encodes nor writes, and no prepared commit crosses a process boundary. An order is in
exactly one chunk, so workers never write the same order's keys.

A worker opens its store once, from the picklable :class:`StoreRecipe` each chunk comes with,
and keeps it and its event loop for every chunk it is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from projections.connections import redacted, redis_client
from projections.errors import StoreError
from projections.merge import with_order
from projections.redis_commit import prepare_from_snapshot
from projections.redis_store import PreparedCommit, RedisTimelineStore, prepare_new_order
from projections.snapshots import OrderSource
from wismo.events import parse_event
from wismo.settings import RedisSettings, Settings

Chunk = list[OrderSource]
"""Whole orders: every logged copy of their events, and their usable snapshots."""


@dataclass(frozen=True, slots=True)
class StoreRecipe:
    """How a rebuilding process opens the same Redis store as its parent (picklable)."""

    url: str
    prefix: str
    retention_s: int = 0
    cluster: bool = False

    @classmethod
    def of(cls, settings: Settings, prefix: str, retention_s: int = 0) -> StoreRecipe:
        if settings.redis.url is None:
            raise ValueError("rebuilding processes need the Redis URL")
        return cls(settings.redis.url, prefix, retention_s, settings.redis.cluster)

    async def open(self) -> RedisTimelineStore:
        settings = Settings(redis=RedisSettings(url=self.url, cluster=self.cluster))
        client = await redis_client(settings)
        url = redacted(self.url)
        return RedisTimelineStore(client, self.prefix, url=url, retention_s=self.retention_s)


@dataclass(slots=True)
class ChunkCounts:
    """What writing one chunk did (summed into the rebuild's report)."""

    orders: int = 0
    events: int = 0
    changed: int = 0
    cpu_s: float = 0.0
    """CPU time the process writing the chunk spent on it."""
    from_snapshots: int = 0
    """Orders written from their snapshot instead of a refold."""
    checked: int = 0
    """Snapshots refolded to check them (the verification sample)."""
    mismatches: int = 0
    """Checked snapshots that were not what the refold gives."""


def checked(order_id: str, share: float) -> bool:
    """Whether an order's snapshot is in the verification sample: the same ``share`` of orders
    every time, chosen by their id."""
    if share >= 1:
        return True
    digest = hashlib.blake2b(order_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") < share * 2**32


def prepare_chunk(
    prefix: str, chunk: Chunk, check_share: float = 1.0, counts: ChunkCounts | None = None
) -> list[PreparedCommit]:
    """Each order's commit: from its snapshot when it has one that covers its events, else
    from a refold. The ``check_share`` sample of snapshots is refolded as well and compared;
    one that differs makes the whole chunk refolded (and counted in ``counts``)."""
    counts = counts if counts is not None else ChunkCounts()
    restored = [prepare_from_snapshot(prefix, source) for source in chunk]
    for source, commit in zip(chunk, restored, strict=True):
        if commit is None or not checked(source.order_id, check_share):
            continue
        counts.checked += 1
        refolded = prepare_new_order(prefix, source.order_id, source.documents)
        if _document(refolded) != _document(commit):
            counts.mismatches += 1
    if counts.mismatches:
        restored = [None] * len(chunk)
    counts.from_snapshots += sum(commit is not None for commit in restored)
    return [
        commit or prepare_new_order(prefix, source.order_id, source.documents)
        for source, commit in zip(chunk, restored, strict=True)
    ]


def _document(commit: PreparedCommit) -> bytes | None:
    return commit.change.timeline if commit.change is not None else None


async def write_chunk(
    redis: RedisTimelineStore, chunk: Chunk, replace: bool, check_share: float = 1.0
) -> ChunkCounts:
    """Create the chunk's orders; an order Redis already holds (or that changed meanwhile) is
    applied the ordinary, idempotent way instead, so what Redis holds and the log not is kept."""
    started = time.process_time()
    counts = ChunkCounts(orders=len(chunk))
    prepared: Sequence[PreparedCommit] = prepare_chunk(
        redis.keys.prefix, chunk, check_share, counts
    )
    existing = set(await redis.create(prepared, replace=replace))
    for commit in prepared:
        if commit.order_id not in existing:
            counts.events += commit.events
            counts.changed += commit.change is not None
    if existing:
        events = [
            with_order(parse_event(event.document), source.order_id)
            for source in chunk
            if source.order_id in existing
            for event in source.events
        ]
        # every logged event once more: not a duplicate delivery
        counts.changed += len(await redis.apply(events, count_duplicates=False))
        await redis.writer.complete(existing)  # an order that had expired is whole again
        counts.events += len({event.event_id for event in events})
    counts.cpu_s = time.process_time() - started
    return counts


_opened: dict[StoreRecipe, tuple[asyncio.AbstractEventLoop, RedisTimelineStore]] = {}


def write_in_worker(
    recipe: StoreRecipe, chunk: Chunk, replace: bool, check_share: float = 1.0
) -> ChunkCounts:
    """Fold and write ``chunk`` in a pool process, on the store ``recipe`` opens there once."""
    try:
        if recipe not in _opened:
            loop = asyncio.new_event_loop()
            _opened[recipe] = (loop, loop.run_until_complete(recipe.open()))
        loop, store = _opened[recipe]
        return loop.run_until_complete(write_chunk(store, chunk, replace, check_share))
    except StoreError as error:  # its subclasses take arguments that do not survive pickling
        raise StoreError(str(error)) from None
