"""Stalled first: the sweeper re-polls a polled parcel and waits before calling it stalled."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from projections.poll.index import PolledParcel, PollIndex
from streams.agents.sweeper import ExceptionSweeper, recheck_grace_s
from tests.projections.test_exceptions import MICRO, STALL, Story, hours
from tests.streams.test_sweeper import SETTINGS, Loop, stalled_state
from wismo.events import EventKind
from wismo.vocab import ExceptionState

GRACE = timedelta(seconds=recheck_grace_s(SETTINGS))


class PolledLoop(Loop):
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        super().__init__(client, prefix)
        self.polls = PollIndex(client, prefix)

    def sweeper(self) -> ExceptionSweeper:
        return ExceptionSweeper(self.store, self.index, SETTINGS, self.publish, self.polls)


@pytest.fixture
async def loop(redis: tuple[aioredis.Redis, str]) -> PolledLoop:
    return PolledLoop(*redis)


async def _polled_story(loop: PolledLoop) -> Story:
    story = Story().moving()
    await loop.arrive(story.events, hours(4))
    parcel = PolledParcel(story.tracking, "ups", story.order_id, "in_transit")
    await loop.polls.schedule(parcel, hours(8))
    return story


async def test_a_polled_parcel_is_re_polled_before_it_is_called_stalled(
    loop: PolledLoop,
) -> None:
    story = await _polled_story(loop)
    assert await loop.sweep(STALL) == []  # held back: re-polled first
    info = await loop.polls.info(story.tracking)
    assert info is not None
    assert (info.requested_at, info.next_poll_at) == (STALL, STALL)
    assert await loop.index.due_at(story.order_id) == STALL + GRACE
    assert await loop.sweep(STALL + GRACE - MICRO) == []
    (opened,) = await loop.sweep(STALL + GRACE)  # still nothing new from the carrier
    assert opened.kind is EventKind.EXCEPTION_OPENED
    assert stalled_state(await loop.timeline(story.order_id)) is ExceptionState.OPEN


async def test_a_re_poll_that_brings_a_scan_opens_nothing(loop: PolledLoop) -> None:
    story = await _polled_story(loop)
    assert await loop.sweep(STALL) == []
    healed = Story(order_id=story.order_id).scan(STALL + timedelta(seconds=20), "in_transit")
    assert await loop.arrive(healed.events, STALL + timedelta(seconds=30)) == []
    assert await loop.sweep(STALL + GRACE) == []
    assert stalled_state(await loop.timeline(story.order_id)) is None


async def test_a_parcel_that_is_not_polled_opens_at_once(loop: PolledLoop) -> None:
    story = Story().moving()
    await loop.arrive(story.events, hours(4))
    (opened,) = await loop.sweep(STALL)
    assert opened.kind is EventKind.EXCEPTION_OPENED
