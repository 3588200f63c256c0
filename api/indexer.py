"""Keeps the agent index current: order ids from change summaries are coalesced (an order that
changes a hundred times in a burst is indexed once or twice) and indexed in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from redis.exceptions import RedisError

from api.agent_index import AgentIndex, Row
from projections.redis_store import RedisTimelineStore

log = logging.getLogger(__name__)

BATCH = 200
_RETRY_S = 1.0


class IndexFeeder:
    def __init__(
        self,
        index: AgentIndex,
        store: RedisTimelineStore,
        clock: Callable[[], datetime],
        on_exceptions: Callable[[list[Row]], None] | None = None,
    ) -> None:
        self.index = index
        self.store = store
        self.clock = clock
        self.on_exceptions = on_exceptions
        self._pending: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def notify(self, summary: dict[str, Any]) -> None:
        order_id = summary.get("order_id")
        if isinstance(order_id, str):
            self._pending[order_id] = None
            self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and not self._stopping:
                batch = list(self._pending)[:BATCH]
                for order_id in batch:
                    del self._pending[order_id]
                try:
                    await self.index_orders(batch)
                except (RedisError, OSError) as error:
                    log.warning("agent index update failed, retrying: %s", error)
                    self._pending.update(dict.fromkeys(batch))
                    await asyncio.sleep(_RETRY_S)

    async def backfill(self) -> int:
        """Index every order the store already holds: once per store, by the first API process
        that starts on it (delete the marker key, see :class:`AgentIndex`, to run it again)."""
        if not await self.index.claim_backfill(self.clock()):
            return 0
        head, tail = self.store.keys.state("\x00").split("\x00")
        batch: list[str] = []
        indexed = 0
        async for key in self.store.client.scan_iter(match=f"{head}*{tail}", count=1000):
            name = key.decode() if isinstance(key, bytes) else key
            batch.append(name[len(head) : -len(tail)])
            if len(batch) == BATCH:
                await self.index_orders(batch)
                indexed, batch = indexed + len(batch), []
        if batch:
            await self.index_orders(batch)
        log.info("agent index backfill: %d orders", indexed + len(batch))
        return indexed + len(batch)

    async def index_orders(self, order_ids: Sequence[str]) -> list[Row]:
        async with self.store.client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.hget(self.store.keys.state(order_id), "json")
            found = await pipe.execute()
        timelines = [orjson.loads(raw) for raw in found if raw]
        changed = await self.index.index(timelines, self.clock())
        if changed and self.on_exceptions is not None:
            self.on_exceptions(changed)
        return changed
