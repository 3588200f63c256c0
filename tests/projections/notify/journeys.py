"""Timelines for the planning tests, built through the real fold: the documented example order
ORD-1001 (two parcels, a failed attempt, a return and a refund) event by event, and the
synthetic stories of :mod:`bench.orders`."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from bench.orders import Mix, story
from projections.notify.model import Contacts, Preferences, Subscription
from projections.notify.plan import Plan, plan_order
from projections.timeline import fold
from projections.timeline_model import Timeline
from wismo.event_lines import read_event_lines
from wismo.events import Event
from wismo.settings import NotifySettings

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "order-1001.jsonl"
CONTACTS = Contacts(email="Pat.Doe@example.com", phone="+33612345678", time_zone="Europe/Paris")
SETTINGS = NotifySettings()


def example_events() -> list[Event]:
    """ORD-1001's events in the order they happened."""
    events, problems = read_event_lines(io.BytesIO(EXAMPLE.read_bytes()))
    assert not problems
    return sorted(events, key=lambda e: (e.occurred_at, e.event_id))


def example(until: str | None = None) -> Timeline:
    """ORD-1001 folded from its events up to and including the one with id ``until``."""
    events = example_events()
    if until is not None:
        ids = [e.event_id for e in events]
        events = events[: ids.index(until) + 1]
    return fold(events, "ORD-1001")


def replay(events: list[Event], order_id: str) -> Iterator[Timeline]:
    """The timeline after each event, in the order they happened."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    for n in range(1, len(ordered) + 1):
        yield fold(ordered[:n], order_id)


def story_events(index: int, mix: Mix) -> tuple[str, list[Event]]:
    told = story(index, mix=mix)
    return told.order_id, told.events(link_scans=True)


def plan(
    timeline: Timeline,
    handled: Mapping[str, str] | None = None,
    *,
    contacts: Contacts = CONTACTS,
    prefs: Preferences | None = None,
    subscriptions: tuple[Subscription, ...] = (),
    settings: NotifySettings = SETTINGS,
    now: datetime | None = None,
) -> Plan:
    moment = now or timeline.last_event_at
    assert moment is not None
    return plan_order(
        timeline,
        contacts,
        prefs or Preferences(),
        handled or {},
        subscriptions,
        settings,
        moment,
    )
