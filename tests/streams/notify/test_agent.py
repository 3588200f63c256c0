"""The notify role's planning half on real Redis stores: timelines planned once, contacts that
arrive after the timeline, team-chat alerts, timelines that do not decode."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from projections.notify.contacts import ContactStore
from projections.notify.ledger import Ledger
from projections.notify.model import MessageState, NotifyChannel
from projections.notify.subscriptions import PreferenceStore, SubscriptionStore
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from projections.timeline_model import Timeline
from streams.agents.notify import NotifyPlanner, journey_entry, ledger_for
from streams.notify.records import decode_record
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.projections.notify.journeys import example_events
from wismo.events import EventKind
from wismo.settings import NotifySettings, RetentionSettings, Settings


@pytest.fixture
def redis_prefix() -> str:
    return f"wismo-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await drop_prefix(client, redis_prefix)
        await client.aclose()


@dataclass
class Timelines:
    documents: dict[str, bytes] = field(default_factory=dict)

    async def timeline(self, order_id: str) -> bytes | None:
        return self.documents.get(order_id)


def planner_for(client: aioredis.Redis, prefix: str, settings: Settings) -> NotifyPlanner:
    return NotifyPlanner(
        Ledger(client, prefix),
        ContactStore(client, prefix),
        PreferenceStore(client, prefix),
        SubscriptionStore(client, prefix),
        Timelines(),
        settings,
    )


def change(timeline: Timeline) -> TimelineChange:
    document = timeline_to_json(timeline)
    return TimelineChange(timeline.order_id, timeline.version, "d", timeline.status.value, document)


def shipped_timeline() -> Timeline:
    events = example_events()
    ids = [e.event_id for e in events]
    return fold(events[: ids.index("ups:1Z999AA10123456784:MP") + 1], "ORD-1001")


SETTINGS = Settings()


async def test_a_replayed_change_plans_nothing_new(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    planner = planner_for(redis_client, redis_prefix, SETTINGS)
    timeline = shipped_timeline()
    now = timeline.last_event_at
    assert now is not None
    await planner.on_events(example_events()[:1], now)  # order.placed: the contacts
    await planner.subscriptions.create("http://127.0.0.1:9/hook", ["*"], now=now)
    first = await planner.on_changes([change(timeline)] * 3, now)
    assert first > 0
    assert await planner.on_changes([change(timeline)], now + timedelta(seconds=5)) == 0
    entries = await planner.ledger.for_order("ORD-1001", 100)
    channels = {e.message.channel for e in entries if e.state is MessageState.QUEUED}
    assert channels == {NotifyChannel.EMAIL, NotifyChannel.WEBHOOK}
    assert len({e.message_id for e in entries}) == len(entries)


async def test_a_timeline_first_seen_long_after_its_milestones_mails_no_one(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """A new notify deployment reading old timelines: the journey is suppressed as stale."""
    planner = planner_for(redis_client, redis_prefix, SETTINGS)
    timeline = shipped_timeline()
    placed_at = timeline.last_event_at
    assert placed_at is not None
    await planner.on_events(example_events()[:1], placed_at)
    later = placed_at + timedelta(seconds=SETTINGS.notify.stale_after_s + 3600)
    await planner.on_changes([change(timeline)], later)
    entries = await planner.ledger.for_order("ORD-1001", 100)
    shipped = [
        e
        for e in entries
        if e.message.channel is NotifyChannel.EMAIL and e.message.kind == "shipped"
    ]
    assert [e.state for e in shipped] == [MessageState.SUPPRESSED]
    assert any(journey_entry(name) for name in await planner.ledger.handled("ORD-1001"))


async def test_contacts_after_the_timeline_hold_the_journey_back_until_they_come(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    planner = planner_for(redis_client, redis_prefix, SETTINGS)
    timelines = Timelines()
    planner.timelines = timelines
    timeline = shipped_timeline()
    timelines.documents["ORD-1001"] = timeline_to_json(timeline)
    now = timeline.last_event_at
    assert now is not None
    await planner.subscriptions.create("http://127.0.0.1:9/hook", ["*"], now=now)
    await planner.on_changes([change(timeline)], now)
    entries = await planner.ledger.for_order("ORD-1001", 100)
    assert {e.message.channel for e in entries} == {NotifyChannel.WEBHOOK}
    handled = await planner.ledger.handled("ORD-1001")
    assert handled
    assert not any(journey_entry(name) for name in handled)
    # nothing due yet; then the order.placed event arrives and the order is planned at once
    assert await planner.replan_pending(now + timedelta(seconds=1)) == 0
    assert await planner.on_events(example_events()[:1], now) == 1
    assert await planner.replan_pending(now + timedelta(seconds=1)) == 1
    entries = await planner.ledger.for_order("ORD-1001", 100)
    emails = [e for e in entries if e.message.channel is NotifyChannel.EMAIL]
    assert emails
    assert {e.message.recipient.lower() for e in emails} == {"pat.doe@example.com"}
    assert any(journey_entry(name) for name in await planner.ledger.handled("ORD-1001"))
    assert await planner.replan_pending(now + timedelta(minutes=1)) == 0


async def test_without_contacts_for_long_the_order_is_planned_anyway(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    planner = planner_for(redis_client, redis_prefix, SETTINGS)
    planner.contact_give_up_s = 10
    timeline = shipped_timeline()
    planner.timelines = Timelines({"ORD-1001": timeline_to_json(timeline)})
    now = timeline.last_event_at
    assert now is not None
    await planner.on_changes([change(timeline)], now)
    assert not any(journey_entry(name) for name in await planner.ledger.handled("ORD-1001"))
    assert await planner.replan_pending(now + timedelta(seconds=11)) == 1
    assert any(journey_entry(name) for name in await planner.ledger.handled("ORD-1001"))
    assert await planner.replan_pending(now + timedelta(minutes=5)) == 0


async def test_an_opened_exception_alerts_each_chat_target_once(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    settings = Settings(
        notify=NotifySettings(
            alert_urls=(SecretStr("json://127.0.0.1:9/a"), SecretStr("json://127.0.0.1:9/b")),
            alert_min_severity="low",
        )
    )
    planner = planner_for(redis_client, redis_prefix, settings)
    opened = [e for e in example_events() if e.kind is EventKind.EXCEPTION_OPENED]
    assert opened
    now = opened[0].occurred_at
    assert await planner.on_exceptions(opened, now) == 2
    assert await planner.on_exceptions(opened, now) == 0
    entries = await planner.ledger.for_order("ORD-1001", 10)
    assert sorted(e.message.recipient for e in entries) == ["0", "1"]
    assert {e.message.channel for e in entries} == {NotifyChannel.CHAT}


async def test_a_timeline_that_does_not_decode_is_skipped(
    redis_client: aioredis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    planner = planner_for(redis_client, redis_prefix, SETTINGS)
    timeline = shipped_timeline()
    now = timeline.last_event_at
    assert now is not None
    broken = TimelineChange("ORD-X", 1, "d", "placed", b'{"order_id": 5}')
    assert await planner.on_changes([broken], now) == 0
    assert "does not decode" in caplog.text


async def test_suppressions_planned_are_recorded_once(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    planner = planner_for(redis_client, redis_prefix, SETTINGS)
    events = example_events()
    now = events[-1].occurred_at
    await planner.on_events(events[:1], now)
    # the whole order at once: the earlier milestones are overtaken by "delivered"
    timeline = fold(events, "ORD-1001")
    await planner.on_changes([change(timeline)], now)
    await planner.on_changes([change(timeline)], now)
    records = [decode_record(r) for r in await planner.ledger.take_records(now, 100, 5)]
    assert records
    assert {r.state for r in records} == {MessageState.SUPPRESSED}
    assert len({r.message_id for r in records}) == len(records)


def test_the_ledger_keeps_records_past_the_retry_horizon() -> None:
    settings = Settings(retention=RetentionSettings(redis_days=30))
    ledger = ledger_for(aioredis.Redis(), settings)
    assert ledger.keep_s == round(settings.notify.retry_horizon_s + 7 * 86400)
    assert ledger.handled_keep_s == 30 * 86400
    forever = ledger_for(aioredis.Redis(), Settings(retention=RetentionSettings(redis_days=0)))
    assert forever.handled_keep_s == 0
