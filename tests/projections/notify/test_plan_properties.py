"""Planning properties over synthetic orders replayed event by event through the real fold:
idempotent, never behind the journey, every message key unique, once per milestone."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.orders import HISTORY, LIVELY, SLA, Mix
from projections.notify.milestones import RANK
from projections.notify.model import (
    Contacts,
    Milestone,
    NotifyChannel,
    Preferences,
    Subscription,
)
from projections.timeline import fold
from projections.timeline_model import Timeline
from tests.projections.notify.journeys import plan, replay, story_events

T = datetime(2026, 3, 1, tzinfo=UTC)
HOOK = Subscription.model_validate(
    {
        "id": "sub_1",
        "url": "https://hooks.example/wismo",
        "event_types": ("*",),
        "secrets": ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",),
        "created_at": T,
        "updated_at": T,
    }
)
CONTACTS = Contacts(email="c@example.com", phone="+447700900123", time_zone="Europe/London")
PREFS = Preferences({"sms:+447700900123": True, "email:other@example.com": True})
MIXES: tuple[Mix, ...] = (LIVELY, SLA, HISTORY)
SOON = RANK[Milestone.ARRIVING_SOON]
stories = st.tuples(st.integers(0, 400), st.sampled_from(MIXES))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories, st.integers(0, 60))
def test_planning_twice_with_the_returned_entries_plans_nothing_new(
    case: tuple[int, Mix], cut: int
) -> None:
    order_id, events = story_events(*case)
    timeline = fold(sorted(events, key=lambda e: e.occurred_at)[: cut + 1], order_id)
    first = plan(timeline, contacts=CONTACTS, prefs=PREFS, subscriptions=(HOOK,))
    keys = [m.key for m in first.messages] + [m.key for m, _ in first.suppressed]
    assert len(keys) == len(set(keys))
    second = plan(timeline, first.handled, contacts=CONTACTS, prefs=PREFS, subscriptions=(HOOK,))
    assert second.messages == []
    assert second.suppressed == []
    assert all(first.handled.get(k) == v for k, v in second.handled.items())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories, st.one_of(st.none(), st.integers(0, 2**32)))
def test_a_replayed_order_never_goes_back_on_a_parcel_and_tells_each_milestone_once(
    case: tuple[int, Mix], shuffle: int | None
) -> None:
    """Events in the order they happened, or arriving in any order (``shuffle``'s seed)."""
    order_id, events = story_events(*case)
    timelines: Iterable[Timeline] = replay(events, order_id)
    if shuffle is not None:
        random.Random(shuffle).shuffle(events)
        timelines = (fold(events[: n + 1], order_id) for n in range(len(events)))
    handled: dict[str, str] = {}
    sent: set[str] = set()
    # per parcel: (rank, from when it counts) of every milestone told so far
    told: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for timeline in timelines:
        now = timeline.last_event_at
        assert now is not None
        planned = plan(timeline, handled, contacts=CONTACTS, prefs=PREFS, subscriptions=(HOOK,))
        for message in planned.messages:
            assert message.key not in sent, "planned twice"
            sent.add(message.key)
            shipment = message.payload.get("shipment_id")
            if message.channel is NotifyChannel.WEBHOOK or not message.rank or not shipment:
                continue
            ahead = [rank for rank, since in told[shipment] if since <= now]
            assert message.rank >= max(ahead, default=0), (message.key, told[shipment])
        for message in planned.messages:
            shipment = message.payload.get("shipment_id")
            if message.rank and shipment:
                counts_from = message.due_at if message.kind == "arriving_soon" else now
                told[shipment].append((message.rank, counts_from))
        for key, value in planned.handled.items():
            if key.startswith("arriving_soon:") and handled.get(key, value) != value:
                # its day moved before it was due: the queued reminder is dropped, never sent
                shipment = key.partition(":")[2]
                told[shipment] = [(r, at) for r, at in told[shipment] if r != SOON]
        handled |= planned.handled
