"""Exception rules and lifecycle, one scenario per type, with literal events and a fixed clock.

:class:`Story` builds the events of one order: an order promised for Thursday 5 March 2026 with
a ship-by, a fulfilment order, a shipment with one parcel, then whatever the scenario adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from projections.exception_flow import (
    AgentAction,
    Refusal,
    agent_action,
    exceptions_for_timeline,
    reconcile,
    timeline_from_json,
)
from projections.exceptions import DetectedException, detect, next_check_at
from projections.serialize import timeline_to_json
from projections.timeline import fold
from projections.timeline_model import ExceptionView, Timeline
from wismo.events import Event, EventKind, ExceptionOpenedEvent, event_from_dict
from wismo.ids import exception_id, natural_event_id
from wismo.settings import ThresholdSettings
from wismo.vocab import ExceptionState, ExceptionType, Owner, Reason, Severity

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
ORDER = "ORD-EXC"
TRACKING = "1ZEXC0000000001"
SHIPMENT = "SH-1"
FULFILMENT = "FO-1"
PROMISED = "2026-03-05"
SHIP_BY = T0 + timedelta(hours=30)
THRESHOLDS = ThresholdSettings()
MICRO = timedelta(microseconds=1)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@dataclass
class Story:
    """The literal events of one order, added scenario by scenario."""

    order_id: str = ORDER
    tracking: str = TRACKING
    events: list[Event] = field(default_factory=list)

    def add(
        self, kind: str, at: datetime, payload: dict[str, Any], *, tracking: str | None = None
    ) -> Story:
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        record: dict[str, Any] = {
            "event_id": natural_event_id("test", kind, self.order_id, at, body, tracking),
            "source": "test",
            "kind": kind,
            "order_id": self.order_id,
            "occurred_at": at.isoformat(),
            "payload": payload,
        }
        if tracking is not None:
            record["tracking_number"] = tracking
        self.events.append(event_from_dict(record))
        return self

    def placed(self) -> Story:
        group = {
            "group_id": "G1",
            "promised_delivery_date": PROMISED,
            "ship_by": SHIP_BY.isoformat(),
            "line_ids": ["L1"],
        }
        lines = [{"line_id": "L1", "sku": "SKU1", "quantity": 1}]
        payload = {"order_number": "9001", "lines": lines, "delivery_groups": [group]}
        return self.add("order.placed", T0, payload)

    def fulfilment(self) -> Story:
        payload = {"fulfilment_order_id": FULFILMENT, "delivery_group_id": "G1", "warehouse": "DC1"}
        return self.add("fulfilment.created", hours(0.5), payload)

    def shipped(self, at: datetime = T0 + timedelta(hours=2), **extra: Any) -> Story:
        payload = {
            "shipment_id": SHIPMENT,
            "fulfilment_order_id": FULFILMENT,
            "carrier": "ups",
            "tracking_number": self.tracking,
            **extra,
        }
        return self.add("fulfilment.shipped", at, payload)

    def scan(
        self, at: datetime, status: str, reason: str | None = None, message: str | None = None
    ) -> Story:
        payload: dict[str, Any] = {"status": status, "raw_code": status.upper()}
        if reason is not None:
            payload["reason"] = reason
        if message is not None:
            payload["message"] = message
        return self.add("tracking.checkpoint", at, payload, tracking=self.tracking)

    def moving(self) -> Story:
        """Placed, fulfilled, shipped and scanned in transit at hour 3."""
        return self.placed().fulfilment().shipped().scan(hours(3), "in_transit")

    def timeline(self, *extra: Event) -> Timeline:
        return fold([*self.events, *extra], self.order_id)


def detected(
    story: Story, now: datetime, thresholds: ThresholdSettings = THRESHOLDS
) -> dict[ExceptionType, DetectedException]:
    found = detect(story.timeline(), now, thresholds)
    assert len({d.key for d in found}) == len(found)
    return {d.type: d for d in found}


def run_clock(story: Story, *moments: datetime) -> list[Event]:
    """Reconcile at each moment in turn; the lifecycle events join the story as they appear."""
    produced: list[Event] = []
    for now in moments:
        timeline = story.timeline()
        new = reconcile(timeline, detect(timeline, now, THRESHOLDS), now)
        story.events += new
        produced += new
    return produced


def view_of(story: Story, kind: ExceptionType) -> ExceptionView:
    (view,) = [v for v in story.timeline().exceptions if v.type is kind]
    return view


def openings(events: list[Event], kind: ExceptionType | None = None) -> list[ExceptionOpenedEvent]:
    opened = [e for e in events if isinstance(e, ExceptionOpenedEvent)]
    return [e for e in opened if kind is None or e.payload.type is kind]


def act(
    story: Story, action: AgentAction, now: datetime, note: str | None = None
) -> Event | Refusal:
    exc_id = exception_id(ORDER, "stalled", SHIPMENT)
    done = agent_action(story.timeline(), exc_id, action, by="agent-7", note=note, now=now)
    if not isinstance(done, Refusal):
        story.events.append(done)
    return done


# event rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "owner", "severity"),
    [
        ("consignee_address_incorrect", Owner.CONSIGNEE, Severity.HIGH),
        ("weather_delay", Owner.WEATHER, Severity.LOW),
        ("carrier_missorted", Owner.CARRIER, Severity.MEDIUM),
        ("consignee_payment_required", Owner.CONSIGNEE, Severity.HIGH),
        (None, Owner.CARRIER, Severity.MEDIUM),
    ],
)
def test_a_carrier_exception_scan_opens_carrier_reported(
    reason: str | None, owner: Owner, severity: Severity
) -> None:
    story = Story().moving().scan(hours(10), "exception", reason, "Held: see notice")
    found = detected(story, hours(11))[ExceptionType.CARRIER_REPORTED]
    assert (found.owner, found.severity, found.subject) == (owner, severity, SHIPMENT)
    assert found.reason == (Reason(reason) if reason else None)
    assert found.due_at == hours(10)
    assert TRACKING in found.message
    assert "Held: see notice" in found.message
    assert found.customer_text


def test_a_delay_reason_on_an_in_transit_scan_is_reported_but_a_requested_hold_is_not() -> None:
    delayed = Story().moving().scan(hours(10), "in_transit", "carrier_delay")
    assert ExceptionType.CARRIER_REPORTED in detected(delayed, hours(11))
    held = Story().moving().scan(hours(10), "in_transit", "consignee_requested_hold")
    assert ExceptionType.CARRIER_REPORTED not in detected(held, hours(11))


def test_the_address_problem_tells_the_customer_what_to_do() -> None:
    story = Story().moving().scan(hours(10), "exception", "consignee_address_incorrect")
    text = detected(story, hours(11))[ExceptionType.CARRIER_REPORTED].customer_text
    assert "address" in text


@pytest.mark.parametrize(
    ("reason", "owner", "severity"),
    [
        ("customs_hold", Owner.CUSTOMS, Severity.MEDIUM),
        ("customs_duties_due", Owner.CONSIGNEE, Severity.HIGH),
        ("customs_documents_required", Owner.CUSTOMS, Severity.HIGH),
    ],
)
def test_customs_reasons_open_a_customs_hold(reason: str, owner: Owner, severity: Severity) -> None:
    story = Story().moving().scan(hours(10), "exception", reason)
    found = detected(story, hours(11))
    assert ExceptionType.CARRIER_REPORTED not in found
    hold = found[ExceptionType.CUSTOMS_HOLD]
    assert (hold.owner, hold.severity, hold.reason) == (owner, severity, Reason(reason))


@pytest.mark.parametrize(
    ("status", "reason", "severity"),
    [
        ("exception", "carrier_lost", Severity.CRITICAL),
        ("exception", "carrier_damaged", Severity.HIGH),
        ("expired", None, Severity.HIGH),
    ],
)
def test_lost_damaged_or_expired_opens_lost_or_damaged(
    status: str, reason: str | None, severity: Severity
) -> None:
    story = Story().moving().scan(hours(10), status, reason)
    found = detected(story, hours(11))
    lost = found[ExceptionType.LOST_OR_DAMAGED]
    assert (lost.severity, lost.owner, lost.due_at) == (severity, Owner.CARRIER, hours(10))
    assert ExceptionType.CARRIER_REPORTED not in found


@pytest.mark.parametrize("status", ["returning_to_sender", "returned_to_sender"])
def test_a_return_leg_opens_return_to_sender(status: str) -> None:
    story = Story().moving().scan(hours(10), status, "consignee_refused")
    found = detected(story, hours(11))
    rts = found[ExceptionType.RETURN_TO_SENDER]
    assert (rts.owner, rts.severity, rts.reason) == (
        Owner.CONSIGNEE,
        Severity.HIGH,
        Reason.CONSIGNEE_REFUSED,
    )
    # a parcel going back is no longer late, stalled or expected by the customer
    assert not {ExceptionType.LATE_VS_PROMISE, ExceptionType.STALLED} & set(found)
    assert ExceptionType.RETURN_TO_SENDER in detected(story, hours(24 * 30))


def test_failed_attempts_open_at_the_threshold_and_escalate_with_the_count() -> None:
    once = Story().moving().scan(hours(20), "attempt_fail", "consignee_not_available")
    found = detected(once, hours(21))[ExceptionType.DELIVERY_ATTEMPT_FAILED]
    assert (found.severity, found.owner, found.due_at) == (
        Severity.MEDIUM,
        Owner.CONSIGNEE,
        hours(20),
    )
    two = ThresholdSettings(failed_attempts=2)
    assert ExceptionType.DELIVERY_ATTEMPT_FAILED not in detected(once, hours(21), two)
    twice = once.scan(hours(44), "attempt_fail", "consignee_not_available")
    found = detected(twice, hours(45), two)[ExceptionType.DELIVERY_ATTEMPT_FAILED]
    assert (found.severity, found.due_at) == (Severity.HIGH, hours(44))
    assert "2 failed delivery attempts" in found.message


def test_a_carrier_edd_beyond_the_promise_is_late_before_the_promised_day() -> None:
    story = Story().moving()
    story.add(
        "edd.revised", hours(12), {"estimated_delivery": "2026-03-07"}, tracking=TRACKING
    ).add("edd.revised", hours(20), {"estimated_delivery": "2026-03-08"}, tracking=TRACKING)
    late = detected(story, hours(21))[ExceptionType.LATE_VS_PROMISE]
    # since the first estimate beyond the promise, not the latest
    assert (late.severity, late.owner, late.due_at) == (Severity.MEDIUM, Owner.CARRIER, hours(12))
    assert "2026-03-08" in late.message
    back = story.add("edd.revised", hours(30), {"estimated_delivery": PROMISED}, tracking=TRACKING)
    assert ExceptionType.LATE_VS_PROMISE not in detected(back, hours(31))


def test_a_failed_payment_opens_until_a_capture_succeeds() -> None:
    story = Story().placed()
    story.add("payment.authorized", hours(0.1), {"payment_id": "P1", "amount": "10.00"})
    story.add("payment.failed", hours(1), {"payment_id": "P1", "failure_reason": "card expired"})
    found = detected(story, hours(2))[ExceptionType.PAYMENT_CAPTURE_FAILED]
    assert (found.subject, found.owner, found.severity) == ("P1", Owner.PAYMENT, Severity.HIGH)
    assert (found.due_at, "card expired" in found.message) == (hours(1), True)
    story.add("payment.captured", hours(3), {"payment_id": "P1", "amount": "10.00"})
    assert ExceptionType.PAYMENT_CAPTURE_FAILED not in detected(story, hours(4))


# clock rules: each fires exactly at its threshold ------------------------------------------


def assert_fires_at(story: Story, kind: ExceptionType, deadline: datetime, since: datetime) -> None:
    """Not before ``deadline``, from it on; and ``next_check_at`` names it in advance."""
    timeline = story.timeline()
    assert kind not in {d.type for d in detect(timeline, deadline - MICRO, THRESHOLDS)}
    fired = {d.type: d for d in detect(timeline, deadline, THRESHOLDS)}
    assert fired[kind].due_at == deadline
    assert kind in {d.type for d in detect(timeline, deadline + timedelta(days=3), THRESHOLDS)}
    assert next_check_at(timeline, since, THRESHOLDS) is not None
    upcoming = next_check_at(timeline, deadline - MICRO, THRESHOLDS)
    assert upcoming == deadline


def test_stalled_fires_exactly_stalled_hours_after_the_last_scan() -> None:
    story = Story().moving().scan(hours(10), "in_transit")
    deadline = hours(10 + THRESHOLDS.stalled_hours)
    assert_fires_at(story, ExceptionType.STALLED, deadline, hours(10))
    stalled = detected(story, deadline)[ExceptionType.STALLED]
    assert (stalled.owner, stalled.severity, stalled.subject) == (
        Owner.CARRIER,
        Severity.MEDIUM,
        SHIPMENT,
    )


def test_a_scan_before_the_deadline_moves_the_stall_clock() -> None:
    story = Story().moving().scan(hours(40), "in_transit")
    assert ExceptionType.STALLED not in detected(story, hours(3 + THRESHOLDS.stalled_hours))
    assert next_check_at(story.timeline(), hours(41), THRESHOLDS) == hours(
        40 + THRESHOLDS.stalled_hours
    )


def test_late_fires_at_the_end_of_the_promised_day_plus_grace() -> None:
    story = Story().moving().scan(hours(60), "out_for_delivery")
    end_of_day = datetime(2026, 3, 6, tzinfo=UTC)
    assert_fires_at(story, ExceptionType.LATE_VS_PROMISE, end_of_day, hours(60))
    assert detected(story, end_of_day)[ExceptionType.LATE_VS_PROMISE].severity is Severity.HIGH
    graced = ThresholdSettings(late_grace_hours=6)
    assert ExceptionType.LATE_VS_PROMISE not in detected(story, end_of_day, graced)
    assert ExceptionType.LATE_VS_PROMISE in detected(story, end_of_day + timedelta(hours=6), graced)


def test_not_shipped_fires_at_ship_by_plus_grace_and_names_the_warehouse() -> None:
    story = Story().placed().fulfilment()
    assert_fires_at(story, ExceptionType.NOT_SHIPPED_ON_TIME, SHIP_BY, hours(1))
    found = detected(story, SHIP_BY)[ExceptionType.NOT_SHIPPED_ON_TIME]
    assert (found.subject, found.owner, "DC1" in found.message) == (
        FULFILMENT,
        Owner.WAREHOUSE,
        True,
    )
    graced = ThresholdSettings(not_shipped_grace_hours=2)
    assert ExceptionType.NOT_SHIPPED_ON_TIME not in detected(story, SHIP_BY, graced)
    shipped = story.shipped(at=SHIP_BY + timedelta(hours=1))
    assert ExceptionType.NOT_SHIPPED_ON_TIME not in detected(shipped, SHIP_BY + timedelta(hours=2))


def test_a_cancelled_order_is_never_late_to_ship() -> None:
    story = Story().placed().fulfilment().add("order.cancelled", hours(1), {"reason": "changed"})
    assert ExceptionType.NOT_SHIPPED_ON_TIME not in detected(story, SHIP_BY + timedelta(days=2))


def test_label_not_scanned_fires_after_the_threshold_unless_the_carrier_scans() -> None:
    story = Story().placed().fulfilment().shipped().scan(hours(2.5), "info_received")
    deadline = hours(2 + THRESHOLDS.label_unscanned_hours)
    assert_fires_at(story, ExceptionType.LABEL_NOT_SCANNED, deadline, hours(3))
    assert detected(story, deadline)[ExceptionType.LABEL_NOT_SCANNED].owner is Owner.WAREHOUSE
    scanned = story.scan(hours(20), "in_transit")
    assert ExceptionType.LABEL_NOT_SCANNED not in detected(scanned, deadline)


def test_refund_overdue_fires_days_after_the_return_arrived_unless_refunded() -> None:
    story = Story().moving().scan(hours(50), "delivered")
    story.add("return.authorized", hours(100), {"return_id": "R1"})
    story.add("return.received", hours(200), {"return_id": "R1"})
    deadline = hours(200) + timedelta(days=THRESHOLDS.refund_overdue_days)
    assert_fires_at(story, ExceptionType.REFUND_OVERDUE, deadline, hours(201))
    found = detected(story, deadline)[ExceptionType.REFUND_OVERDUE]
    assert (found.subject, found.owner, found.severity) == ("R1", Owner.PAYMENT, Severity.HIGH)
    refunded = story.add("refund.issued", hours(300), {"refund_id": "RF1", "return_id": "R1"})
    assert ExceptionType.REFUND_OVERDUE not in detected(refunded, deadline)


def test_nothing_to_wait_for_once_everything_is_delivered_and_paid() -> None:
    story = Story().moving().scan(hours(50), "delivered")
    assert detected(story, hours(24 * 40)) == {}
    assert next_check_at(story.timeline(), hours(51), THRESHOLDS) is None


# lifecycle ---------------------------------------------------------------------------------

STALL = hours(3 + THRESHOLDS.stalled_hours)


def test_stalled_opens_on_time_then_resolves_itself_when_the_parcel_moves() -> None:
    story = Story().moving()
    assert run_clock(story, STALL - MICRO) == []
    (opened,) = run_clock(story, STALL)
    assert opened.kind is EventKind.EXCEPTION_OPENED
    assert opened.payload.exception_id == exception_id(ORDER, "stalled", SHIPMENT)
    assert opened.occurred_at == STALL
    story.scan(STALL + timedelta(hours=5), "out_for_delivery")
    (resolved,) = run_clock(story, STALL + timedelta(hours=6))
    assert resolved.kind is EventKind.EXCEPTION_RESOLVED
    view = view_of(story, ExceptionType.STALLED)
    assert view.state is ExceptionState.RESOLVED
    assert view.automatic_resolution
    assert view.resolved_at == STALL + timedelta(hours=6)


def test_reconciling_again_changes_nothing() -> None:
    story = Story().moving()
    assert len(run_clock(story, STALL)) == 1
    assert run_clock(story, STALL, STALL + timedelta(hours=1), STALL + timedelta(days=1)) == []


def test_a_new_stall_after_an_automatic_resolution_reopens_the_same_exception() -> None:
    story = Story().moving()
    run_clock(story, STALL)
    story.scan(STALL + timedelta(hours=1), "in_transit")
    run_clock(story, STALL + timedelta(hours=2))
    second = STALL + timedelta(hours=1 + THRESHOLDS.stalled_hours)
    reopened = run_clock(story, second)
    view = view_of(story, ExceptionType.STALLED)
    assert (view.state, view.opened_at, view.resolved_at) == (ExceptionState.OPEN, second, None)
    assert view.exception_id in {e.payload.exception_id for e in openings(reopened)}
    assert len({e.event_id for e in openings(story.events, ExceptionType.STALLED)}) == 2


def test_an_agent_resolution_sticks_until_the_condition_starts_again() -> None:
    story = Story().moving()
    run_clock(story, STALL)
    assert not isinstance(act(story, "acknowledge", STALL), Refusal)
    assert view_of(story, ExceptionType.STALLED).state is ExceptionState.ACKNOWLEDGED
    resolved_at = STALL + timedelta(hours=1)
    assert not isinstance(
        act(story, "resolve", resolved_at, "carrier says it is on the van"), Refusal
    )
    # still no scan: the condition persists, but the agent's word stands
    later = run_clock(story, *(resolved_at + timedelta(hours=h) for h in (1, 10, 100)))
    assert openings(later, ExceptionType.STALLED) == []
    view = view_of(story, ExceptionType.STALLED)
    assert (view.state, view.resolved_by, view.automatic_resolution, view.note) == (
        ExceptionState.RESOLVED,
        "agent-7",
        False,
        "carrier says it is on the van",
    )
    # a fresh scan, then a fresh stall: a new occurrence, the same exception re-opens
    story.scan(resolved_at + timedelta(hours=2), "in_transit")
    again = resolved_at + timedelta(hours=2 + THRESHOLDS.stalled_hours)
    assert openings(run_clock(story, again - MICRO), ExceptionType.STALLED) == []
    assert len(openings(run_clock(story, again), ExceptionType.STALLED)) == 1
    assert view_of(story, ExceptionType.STALLED).state is ExceptionState.OPEN


def test_delivery_resolves_late_stalled_and_attempt_exceptions() -> None:
    story = Story().moving().scan(hours(30), "attempt_fail", "consignee_not_available")
    late = datetime(2026, 3, 8, tzinfo=UTC)
    opened = run_clock(story, late)
    assert {e.payload.type for e in openings(opened)} == {
        ExceptionType.LATE_VS_PROMISE,
        ExceptionType.STALLED,
        ExceptionType.DELIVERY_ATTEMPT_FAILED,
    }
    story.scan(late + timedelta(hours=1), "delivered", "delivered_to_recipient")
    resolved = run_clock(story, late + timedelta(hours=2))
    assert {e.kind for e in resolved} == {EventKind.EXCEPTION_RESOLVED}
    timeline = story.timeline()
    assert {v.state for v in timeline.exceptions} == {ExceptionState.RESOLVED}
    assert all(v.automatic_resolution for v in timeline.exceptions)


def test_agent_actions_are_refused_for_unknown_resolved_or_invalid_input() -> None:
    story = Story().moving()
    run_clock(story, STALL)
    unknown = agent_action(story.timeline(), "exc:nope", "resolve", by="a1", note=None, now=STALL)
    assert isinstance(unknown, Refusal)
    assert unknown.status == 404
    too_long = act(story, "resolve", STALL, note="x" * 5000)
    assert isinstance(too_long, Refusal)
    assert too_long.status == 422
    assert "note" in too_long.reason
    assert not isinstance(act(story, "resolve", STALL), Refusal)
    again = act(story, "acknowledge", STALL)
    assert isinstance(again, Refusal)
    assert again.status == 409


def test_the_same_agent_action_twice_is_one_event() -> None:
    story = Story().moving()
    run_clock(story, STALL)
    timeline = story.timeline()
    exc_id = exception_id(ORDER, "stalled", SHIPMENT)
    first = agent_action(timeline, exc_id, "acknowledge", by="a1", note="on it", now=STALL)
    later = agent_action(timeline, exc_id, "acknowledge", by="a1", note="on it", now=STALL + MICRO)
    assert not isinstance(first, Refusal)
    assert not isinstance(later, Refusal)
    assert first.event_id == later.event_id


def test_exceptions_opened_by_hand_are_never_resolved_by_the_detector() -> None:
    story = Story().moving()
    story.add(
        "exception.opened",
        hours(5),
        {
            "exception_id": "exc:manual-1",
            "type": "carrier_reported",
            "severity": "low",
            "owner": "carrier",
            "subject": SHIPMENT,
            "message": "Customer called: parcel looks opened",
        },
    )
    assert run_clock(story, hours(6)) == []


def test_a_stored_timeline_is_read_back_checked_and_scheduled() -> None:
    stored = timeline_from_json(timeline_to_json(Story().moving().timeline()))
    before = exceptions_for_timeline(stored, hours(4), THRESHOLDS)
    assert (before.order_id, before.events, before.next_check_at) == (ORDER, [], STALL)
    due = exceptions_for_timeline(stored, STALL, THRESHOLDS)
    assert [e.kind for e in due.events] == [EventKind.EXCEPTION_OPENED]
    assert due.next_check_at == datetime(2026, 3, 6, tzinfo=UTC)
