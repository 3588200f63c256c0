"""The sweeper's two paths over timelines held in a real Redis, with an injected clock.

``publish`` stands in for the broker round trip: it applies the lifecycle events to the same
Redis store, as the timeline agent does when they come back on the events topic, and feeds the
resulting changes to the event path again (which must then find nothing more to do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from projections.due_index import DueIndex
from projections.exception_flow import timeline_from_json
from projections.redis_store import RedisTimelineStore
from projections.store import TimelineChange
from projections.timeline_model import Timeline
from streams.agents.sweeper import ExceptionSweeper, latest_per_order
from tests.projections.test_exceptions import MICRO, STALL, THRESHOLDS, Story, hours
from wismo.events import Event, EventKind
from wismo.settings import Settings, SweeperSettings
from wismo.vocab import ExceptionState, ExceptionType

SETTINGS = Settings(thresholds=THRESHOLDS, sweeper=SweeperSettings(batch=20, lease_s=60))


class Loop:
    """A store, a due index and sweepers whose published events come back through the store."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.store = RedisTimelineStore(client, prefix)
        self.index = DueIndex(client, prefix)
        self.published: list[Event] = []
        self.now = hours(0)

    def sweeper(self) -> ExceptionSweeper:
        return ExceptionSweeper(self.store, self.index, SETTINGS, self.publish)

    async def publish(self, events: Sequence[Event]) -> None:
        self.published += events
        changes = await self.store.apply(events)
        if changes:
            echo = await self.sweeper().on_changes(latest_per_order(changes), self.now)
            assert echo == [], "folding the lifecycle events back in must settle"

    async def arrive(self, events: Sequence[Event], now: datetime) -> list[Event]:
        """Events reach the timeline at ``now``; the event path runs on what changed."""
        self.now = now
        changes = await self.store.apply(events)
        return await self.sweeper().on_changes(changes, now)

    async def sweep(self, now: datetime, sweeper: ExceptionSweeper | None = None) -> list[Event]:
        self.now = now
        return (await (sweeper or self.sweeper()).sweep(now)).events

    async def timeline(self, order_id: str) -> Timeline:
        document = await self.store.timeline(order_id)
        assert document is not None
        return timeline_from_json(document)


def stalled_state(timeline: Timeline) -> ExceptionState | None:
    states = [v.state for v in timeline.exceptions if v.type is ExceptionType.STALLED]
    assert len(states) <= 1
    return states[0] if states else None


async def test_a_quiet_shipment_opens_stalled_on_the_sweep_and_resolves_on_delivery(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis)
    story = Story().moving()
    assert await loop.arrive(story.events, hours(4)) == []
    assert await loop.index.due_at(story.order_id) == STALL
    assert await loop.sweep(STALL - MICRO) == []
    (opened,) = await loop.sweep(STALL)
    assert opened.kind is EventKind.EXCEPTION_OPENED
    timeline = await loop.timeline(story.order_id)
    assert stalled_state(timeline) is ExceptionState.OPEN
    # the next check is the promised day; sweeping again before it does nothing
    assert await loop.sweep(STALL + timedelta(hours=1)) == []
    delivered = Story(order_id=story.order_id).scan(STALL + timedelta(hours=3), "delivered")
    (resolved,) = await loop.arrive(delivered.events, STALL + timedelta(hours=3))
    assert resolved.kind is EventKind.EXCEPTION_RESOLVED
    timeline = await loop.timeline(story.order_id)
    assert stalled_state(timeline) is ExceptionState.RESOLVED
    # nothing left to wait for: the order leaves the index at its next check
    assert await loop.sweep(STALL + timedelta(days=30)) == []
    assert await loop.index.pending() == 0


async def test_the_event_path_opens_what_events_show_at_once(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis)
    story = Story().moving().scan(hours(10), "exception", "consignee_address_incorrect")
    (opened,) = await loop.arrive(story.events, hours(10))
    assert opened.payload.type is ExceptionType.CARRIER_REPORTED  # type: ignore[union-attr]
    (view,) = (await loop.timeline(story.order_id)).exceptions
    assert (view.type, view.state) == (ExceptionType.CARRIER_REPORTED, ExceptionState.OPEN)
    # the same change delivered again (at-least-once) opens nothing more
    again = await loop.sweeper().on_changes(
        latest_per_order(await loop.store.apply(story.events)), hours(11)
    )
    assert again == []


async def test_two_sweepers_share_the_due_orders_and_open_each_exception_once(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis)
    orders = [f"ORD-{n:03d}" for n in range(60)]
    for n, order_id in enumerate(orders):
        story = Story(order_id=order_id, tracking=f"1ZSWEEP{n:08d}").moving()
        await loop.arrive(story.events, hours(4))
    assert await loop.index.pending() == len(orders)
    first, second = loop.sweeper(), loop.sweeper()
    rounds = [asyncio.gather(loop.sweep(STALL, first), loop.sweep(STALL, second)) for _ in range(3)]
    results = [events for pair in await asyncio.gather(*rounds) for events in pair]
    opened = [e for events in results for e in events]
    assert sorted(e.order_id or "" for e in opened) == orders
    assert len({e.event_id for e in opened}) == len(orders)
    for order_id in orders[::10]:
        assert stalled_state(await loop.timeline(order_id)) is ExceptionState.OPEN


async def test_a_sweeper_that_dies_mid_batch_leaves_the_orders_to_the_next_one(
    redis: tuple[aioredis.Redis, str],
) -> None:
    loop = Loop(*redis)
    story = Story().moving()
    await loop.arrive(story.events, hours(4))
    # a sweeper takes the order and dies before publishing anything
    assert len(await loop.index.take(STALL, 10, SETTINGS.sweeper.lease_s)) == 1
    assert await loop.sweep(STALL + timedelta(seconds=1)) == []
    after_lease = STALL + timedelta(seconds=SETTINGS.sweeper.lease_s)
    (opened,) = await loop.sweep(after_lease)
    assert opened.kind is EventKind.EXCEPTION_OPENED
    # it opened at its deadline, not when a sweeper finally noticed
    assert (await loop.timeline(story.order_id)).exceptions[0].opened_at == STALL


async def test_a_timeline_that_does_not_decode_is_skipped_not_fatal(
    redis: tuple[aioredis.Redis, str],
) -> None:
    client, _ = redis
    loop = Loop(*redis)
    story = Story().moving()
    await loop.arrive(story.events, hours(4))
    await client.hset(loop.store.keys.state(story.order_id), "json", b'{"order_id": 7}')
    assert await loop.sweep(STALL) == []
    assert await loop.index.pending() == 0
    garbage = TimelineChange(story.order_id, 9, "d", "in_transit", b"[]")
    assert await loop.sweeper().on_changes([garbage], STALL) == []
