"""The event path waits ``settle_s`` before opening a clock rule that is already overdue, so a
timeline still filling in (a replayed history whose scans land just after their shipment)
never opens and resolves an exception that never was."""

from __future__ import annotations

from datetime import timedelta

from projections.exception_flow import exceptions_for_timeline
from tests.projections.test_exceptions import (
    ORDER,
    STALL,
    THRESHOLDS,
    Story,
    hours,
)
from wismo.events import EventKind

SETTLE = 30.0


def test_an_overdue_clock_rule_waits_for_the_order_to_settle() -> None:
    timeline = Story().moving().timeline()
    late = STALL + timedelta(hours=1)
    outcome = exceptions_for_timeline(timeline, late, THRESHOLDS, settle_s=SETTLE)
    assert outcome.events == []
    assert outcome.next_check_at == late + timedelta(seconds=SETTLE)
    # the sweeper's check at that time (no settling) opens it
    swept = exceptions_for_timeline(timeline, outcome.next_check_at, THRESHOLDS)
    assert [e.kind for e in swept.events] == [EventKind.EXCEPTION_OPENED]
    assert swept.order_id == ORDER


def test_an_open_clock_exception_is_not_resolved_while_settling() -> None:
    story = Story().moving()
    opened = exceptions_for_timeline(story.timeline(), STALL, THRESHOLDS).events
    assert [e.kind for e in opened] == [EventKind.EXCEPTION_OPENED]
    timeline = story.timeline(*opened)
    again = exceptions_for_timeline(
        timeline, STALL + timedelta(hours=2), THRESHOLDS, settle_s=SETTLE
    )
    assert again.events == []


def test_event_rules_are_not_delayed_and_future_deadlines_are_unchanged() -> None:
    timeline = Story().moving().timeline()
    early = exceptions_for_timeline(timeline, hours(4), THRESHOLDS, settle_s=SETTLE)
    plain = exceptions_for_timeline(timeline, hours(4), THRESHOLDS)
    assert early == plain
