"""The live timeline store in Redis: :class:`~projections.store.TimelineStore` assembled from
parts with one reason to change each.

- :mod:`projections.redis_keys` — every key and channel name;
- :mod:`projections.redis_commit` — preparing a commit without Redis (fold, JSON, arguments);
- :mod:`projections.redis_writer` — apply and bulk create: the atomic commit script on the
  order's hash slot, which publishes the change, then the agent index
  (:mod:`projections.redis_index`) and retention (:mod:`projections.redis_retention`);
- :mod:`projections.redis_reader` — timelines, events, duplicate counts, customer lookup;
- :mod:`projections.links` — the tracking-number link and parked scans;
- :mod:`projections.agent_index` — the agent console's search and exception-queue index (reads).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from projections.agent_index import AgentIndex
from projections.links import LinkIndex
from projections.redis_commit import PreparedCommit, prepare_commit, prepare_new_order
from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes
from projections.redis_reader import TimelineReader
from projections.redis_writer import SCRIPTS, TimelineWriter
from projections.store import TimelineChange
from wismo.events import Event

__all__ = [
    "PreparedCommit",
    "RedisKeys",
    "RedisTimelineStore",
    "prepare_commit",
    "prepare_new_order",
]


class RedisTimelineStore:
    """:class:`~projections.store.TimelineStore` on Redis (a client the caller owns).

    ``link_shipments=False`` is for the live path, where the link agent keeps the tracking
    links and releases parked scans (see :class:`~projections.redis_writer.TimelineWriter`).
    ``retention_s``: an order reaching a final state expires from Redis this long after
    (:mod:`projections.retention`; 0 keeps it).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "wismo",
        *,
        url: str = "redis",
        cache_orders: int = 4096,
        continue_folds: bool = True,
        link_shipments: bool = True,
        retention_s: int = 0,
    ) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self.links = LinkIndex(client, self.keys, url=url)
        self.agent_index = AgentIndex(client, self.keys, url=url)
        self.reader = TimelineReader(RedisPipes(client, url), self.keys)
        self.writer = TimelineWriter(
            RedisPipes(client, url, SCRIPTS),
            self.keys,
            self.links,
            cache_orders=cache_orders,
            continue_folds=continue_folds,
            link_shipments=link_shipments,
            retention_s=retention_s,
        )

    # writing -----------------------------------------------------------------------------

    async def apply(
        self, events: Sequence[Event], *, count_duplicates: bool = True
    ) -> list[TimelineChange]:
        return await self.writer.apply(events, count_duplicates=count_duplicates)

    async def create(self, prepared: Sequence[PreparedCommit], *, replace: bool) -> list[str]:
        return await self.writer.create(prepared, replace=replace)

    # reading -----------------------------------------------------------------------------

    async def timeline(self, order_id: str) -> bytes | None:
        return await self.reader.timeline(order_id)

    async def expired(self, order_id: str) -> bool:
        return await self.reader.expired(order_id)

    async def current(self, order_ids: Sequence[str]) -> list[TimelineChange]:
        return await self.reader.current(order_ids)

    async def events(self, order_id: str) -> list[Event]:
        return await self.reader.events(order_id)

    async def applied_ids(self, order_id: str) -> frozenset[str]:
        return await self.reader.applied_ids(order_id)

    async def duplicates(self, order_id: str) -> dict[str, int]:
        return await self.reader.duplicates(order_id)

    async def order_for_lookup(
        self, order_number: str, email: str | None = None, postcode: str | None = None
    ) -> str | None:
        return await self.reader.order_for_lookup(order_number, email, postcode)

    # the tracking-number link ------------------------------------------------------------

    async def order_for_tracking(self, tracking_number: str) -> str | None:
        return await self.links.order_for(tracking_number)

    async def park(self, events: Sequence[Event]) -> list[Event]:
        return await self.links.park(events)

    async def parked(self, tracking_number: str) -> list[Event]:
        return await self.links.parked(tracking_number)

    async def release(self, tracking_number: str) -> list[Event]:
        return await self.links.release(tracking_number)

    async def close(self) -> None:
        self.writer.clear()
