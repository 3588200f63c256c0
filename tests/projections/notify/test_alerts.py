"""Agent alerts: exceptions at or above the configured severity, once per chat target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from projections.notify.alerts import plan_alert, render_alert
from projections.notify.model import Contacts, NotifyChannel, Preferences
from projections.notify.plan import plan_order
from projections.timeline_model import ExceptionView, Timeline
from wismo.events import Event, event_from_dict
from wismo.settings import NotifySettings
from wismo.vocab import ExceptionState, ExceptionType, Owner, ProblemType, Severity

AT = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
TWO_TARGETS = NotifySettings(
    alert_urls=("slack://T000/B000/XXXX", "json://127.0.0.1:9/hook"), alert_min_severity="high"
)


def exception_event(kind: str = "exception.opened", **payload: Any) -> Event:
    body = {
        "exception_id": "exc:stalled:SH-1",
        "type": "stalled",
        "severity": "high",
        "owner": "carrier",
        "subject": "SH-1",
        "reason": "carrier_delay",
        "message": "No scan for 72 hours",
    } | payload
    if kind != "exception.opened":
        body = {"exception_id": body["exception_id"], "automatic": True}
    return event_from_dict(
        {
            "event_id": f"wismo:{kind}:exc",
            "source": "wismo",
            "kind": kind,
            "order_id": "ORD-7",
            "occurred_at": AT.isoformat(),
            "payload": body,
        }
    )


def test_an_exception_at_the_threshold_goes_to_every_target() -> None:
    messages = plan_alert(exception_event(), TWO_TARGETS)
    assert [m.key for m in messages] == [
        "ORD-7|alert:exc:stalled:SH-1|chat|0",
        "ORD-7|alert:exc:stalled:SH-1|chat|1",
    ]
    assert all(m.channel is NotifyChannel.CHAT for m in messages)
    assert [m.recipient for m in messages] == ["0", "1"]
    assert messages[0].due_at == AT
    assert "slack" not in repr(messages)  # target URLs hold tokens: never in a message
    title, body = render_alert(messages[0])
    assert title == "High exception: stalled on order ORD-7"
    assert "No scan for 72 hours" in body
    assert "Reason: carrier delay" in body
    assert "Subject: SH-1" in body


@pytest.mark.parametrize(("severity", "alerts"), [("low", 0), ("medium", 0), ("critical", 2)])
def test_only_severe_enough_exceptions_alert(severity: str, alerts: int) -> None:
    assert len(plan_alert(exception_event(severity=severity), TWO_TARGETS)) == alerts


def test_lifecycle_steps_and_missing_targets_alert_nobody() -> None:
    assert plan_alert(exception_event("exception.resolved"), TWO_TARGETS) == []
    assert plan_alert(exception_event("exception.acknowledged"), TWO_TARGETS) == []
    assert plan_alert(exception_event(), NotifySettings()) == []


def _reported(problem: ProblemType, at: datetime = AT) -> Timeline:
    severity = Severity.HIGH if problem is ProblemType.NOT_RECEIVED else Severity.MEDIUM
    report = ExceptionView(
        f"cr_{problem.value}",
        ExceptionState.OPEN,
        type=ExceptionType.CUSTOMER_REPORTED,
        severity=severity,
        owner=Owner.RETAILER,
        message="The parcel never came.",
        opened_at=at,
        problem=problem,
        reported_by_customer=True,
    )
    return Timeline("ORD-7", exceptions=[report], version=4)


def test_a_customer_report_at_the_threshold_alerts_each_target_once() -> None:
    timeline = _reported(ProblemType.NOT_RECEIVED)
    plan = plan_order(timeline, Contacts(), Preferences(), {}, (), TWO_TARGETS, AT)
    alerts = [m for m in plan.messages if m.channel is NotifyChannel.CHAT]
    assert [m.recipient for m in alerts] == ["0", "1"]
    assert alerts[0].key == "ORD-7|alert:cr_not_received|chat|0"
    title, body = render_alert(alerts[0])
    assert title == "High exception: customer reported on order ORD-7"
    assert "The parcel never came." in body
    assert "Reason: not received" in body
    again = plan_order(timeline, Contacts(), Preferences(), plan.handled, (), TWO_TARGETS, AT)
    assert not [m for m in again.messages if m.channel is NotifyChannel.CHAT]


def test_a_report_below_the_threshold_or_long_past_is_not_sent() -> None:
    medium = plan_order(
        _reported(ProblemType.DAMAGED), Contacts(), Preferences(), {}, (), TWO_TARGETS, AT
    )
    assert not [m for m in medium.messages if m.channel is NotifyChannel.CHAT]
    assert medium.handled["alert:cr_damaged"] == "1"  # decided once
    later = AT + timedelta(days=5)
    old = plan_order(
        _reported(ProblemType.NOT_RECEIVED), Contacts(), Preferences(), {}, (), TWO_TARGETS,
        later, stale_after=timedelta(days=2),
    )  # fmt: skip
    assert not [m for m in old.messages if m.channel is NotifyChannel.CHAT]
    assert [r for m, r in old.suppressed if m.channel is NotifyChannel.CHAT] == ["stale", "stale"]
