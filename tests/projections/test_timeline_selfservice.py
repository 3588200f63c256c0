"""Scenario tests of what the fold makes of customers' and agents' actions: one behaviour per
test, literal events in (the generated histories of tests/strategies.py cover the invariants)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from projections.exception_flow import reconcile, timeline_from_json
from projections.exceptions import detect
from projections.serialize import timeline_to_dict, timeline_to_json
from projections.timeline import CONTINUED_KINDS, OrderFold, fold
from projections.timeline_model import CaseView, ExceptionView, Timeline
from tests.projections.test_timeline import ORDER, ev, placed, scan, shipped
from wismo.events import Event, EventKind
from wismo.settings import ThresholdSettings
from wismo.vocab import (
    CancelStatus,
    ExceptionState,
    ExceptionType,
    OrderStatus,
    Owner,
    ProblemType,
    ReturnStatus,
    Severity,
    TrackingStatus,
)

REPORT = "cr_0123456789abcdef"
A1 = [{"line_id": "A", "quantity": 1}]
PHOTO = {
    "ref": "0123456789abcdef0123456789abcdef.jpg",
    "content_type": "image/jpeg",
    "size_bytes": 4096,
    "sha256": "ab" * 32,
}


def report(day: int = 5, hour: int = 12, **extra: Any) -> Event:
    payload: dict[str, Any] = {
        "exception_id": REPORT,
        "problem": "damaged",
        "text": "The box arrived crushed",
        **extra,
    }
    return ev("problem.reported", day, hour, source="customer", **payload)


def agent(kind: str, day: int, hour: int = 12, **payload: Any) -> Event:
    return ev(kind, day, hour, source="agent", **payload)


def exception(timeline: Timeline, exception_id: str = REPORT) -> ExceptionView:
    (view,) = [v for v in timeline.exceptions if v.exception_id == exception_id]
    return view


def every_order(events: list[Event]) -> Timeline:
    """The fold, after checking every permutation of the events folds to the same bytes."""
    expected = timeline_to_json(fold(events))
    for permutation in itertools.islice(itertools.permutations(events), 200):
        assert timeline_to_json(fold(list(permutation))) == expected
    return fold(events)


# customer reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "severity"),
    [
        ("not_received", Severity.HIGH),
        ("damaged", Severity.MEDIUM),
        ("wrong_item", Severity.MEDIUM),
    ],
)
def test_a_customer_report_opens_a_customer_reported_exception(
    problem: str, severity: Severity
) -> None:
    reported = report(problem=problem, subject="1ZAAA0001", lines=A1, attachment=PHOTO)
    view = exception(fold([placed(), shipped("1ZAAA0001", A1), reported]))
    assert (view.type, view.severity, view.owner) == (
        ExceptionType.CUSTOMER_REPORTED,
        severity,
        Owner.RETAILER,
    )
    assert view.state is ExceptionState.OPEN
    assert view.problem is ProblemType(problem)
    assert view.message == "The box arrived crushed"
    assert view.subject == "1ZAAA0001"
    assert view.reported_lines == {"A": 1}
    assert view.attachment == PHOTO
    assert view.reported_by_customer
    assert view.opened_at == datetime(2026, 3, 5, 12, tzinfo=UTC)


def test_the_detector_never_resolves_or_repeats_a_customer_report() -> None:
    story = [
        placed(),
        shipped("1ZAAA0001", A1),
        scan("1ZAAA0001", "in_transit", 3),
        report(problem="not_received", subject="1ZAAA0001"),
    ]
    thresholds = ThresholdSettings()
    produced: list[Event] = []
    for day in (5, 9, 30):
        now = datetime(2026, 3, day, 18, tzinfo=UTC)
        timeline = fold(story)
        lifecycle = reconcile(timeline, detect(timeline, now, thresholds), now)
        assert REPORT not in {getattr(e.payload, "exception_id", None) for e in lifecycle}
        story += lifecycle
        produced += lifecycle
    assert produced  # the detector did open its own (stalled, late) exceptions meanwhile
    timeline = fold(story)
    reports = [v for v in timeline.exceptions if v.type is ExceptionType.CUSTOMER_REPORTED]
    assert [(v.exception_id, v.state) for v in reports] == [(REPORT, ExceptionState.OPEN)]


def test_a_report_is_acknowledged_and_resolved_like_any_exception() -> None:
    acknowledged = agent("exception.acknowledged", 5, 13, exception_id=REPORT, by="agent-7")
    resolved = agent(
        "exception.resolved", 6, exception_id=REPORT, by="agent-7", note="replacement sent"
    )
    view = exception(every_order([placed(), report(), acknowledged, resolved]))
    assert view.state is ExceptionState.RESOLVED
    assert (view.acknowledged_by, view.resolved_by) == ("agent-7", "agent-7")
    assert view.type is ExceptionType.CUSTOMER_REPORTED


# assignment, escalation, cases ----------------------------------------------------------


def assigned(day: int, hour: int, assignee: str | None, by: str = "lead-1") -> Event:
    extra = {} if assignee is None else {"assignee": assignee}
    return agent("exception.assigned", day, hour, exception_id=REPORT, by=by, **extra)


def test_the_latest_assignment_wins_and_none_gives_it_back() -> None:
    taken = assigned(5, 13, "agent-7", by="agent-7")
    given_on = assigned(5, 14, "agent-9")
    view = exception(every_order([placed(), report(), given_on, taken]))
    assert (view.assignee, view.assigned_by) == ("agent-9", "lead-1")
    assert view.assigned_at == datetime(2026, 3, 5, 14, tzinfo=UTC)
    back = exception(fold([placed(), report(), taken, given_on, assigned(5, 15, None, "agent-9")]))
    assert back.assignee is None
    assert (back.assigned_by, back.assigned_at) == ("agent-9", datetime(2026, 3, 5, 15, tzinfo=UTC))


def escalated(day: int, reason: str, by: str = "agent-7", **extra: Any) -> Event:
    return agent("exception.escalated", day, exception_id=REPORT, reason=reason, by=by, **extra)


def test_the_first_escalation_stands_until_the_exception_is_resolved() -> None:
    first = escalated(5, "carrier does not answer", to="lead-1")
    again = escalated(6, "still nothing", by="agent-9")
    view = exception(every_order([placed(), report(), first, again]))
    assert (view.escalation_reason, view.escalated_by, view.escalated_to) == (
        "carrier does not answer",
        "agent-7",
        "lead-1",
    )
    resolved = agent("exception.resolved", 7, exception_id=REPORT, by="lead-1")
    after = exception(fold([placed(), report(), first, resolved, escalated(8, "it came back")]))
    assert (after.escalation_reason, after.escalated_to) == ("it came back", None)
    assert after.escalated_at == datetime(2026, 3, 8, 12, tzinfo=UTC)


def test_a_service_desk_case_is_kept_on_the_exception() -> None:
    case = ev(
        "exception.case_opened",
        6,
        source="servicecloud",
        exception_id=REPORT,
        system="salesforce",
        case_id="5003000000D8cuI",
        case_number="00001026",
        url="https://example.my.salesforce.com/5003000000D8cuI",
    )
    view = exception(every_order([placed(), report(), case]))
    assert view.case == CaseView(
        "salesforce",
        "5003000000D8cuI",
        "00001026",
        "https://example.my.salesforce.com/5003000000D8cuI",
        datetime(2026, 3, 6, 12, tzinfo=UTC),
    )


# notes and messages ---------------------------------------------------------------------


def note(note_id: str, day: int, hour: int, text: str, **extra: Any) -> Event:
    return agent("note.added", day, hour, note_id=note_id, text=text, by="agent-7", **extra)


def test_notes_are_one_history_in_time_order_with_the_agents_actions() -> None:
    events = [
        placed(),
        report(),
        note("n_0000000000000002", 5, 15, "asked the depot", exception_id=REPORT),
        note("n_0000000000000001", 5, 14, "customer called"),
        agent("exception.acknowledged", 5, 13, exception_id=REPORT, by="agent-9", note="on it"),
        escalated(5, "depot silent"),
        agent("exception.resolved", 6, exception_id=REPORT, by="lead-1", note="refunded"),
    ]
    timeline = every_order(events)
    history = [(n.action, n.text, n.by, n.exception_id) for n in timeline.notes]
    assert history == [
        ("escalate", "depot silent", "agent-7", REPORT),
        ("acknowledge", "on it", "agent-9", REPORT),
        ("note", "customer called", "agent-7", None),
        ("note", "asked the depot", "agent-7", REPORT),
        ("resolve", "refunded", "lead-1", REPORT),
    ]
    assert timeline.notes[2].note_id == "n_0000000000000001"
    assert exception(timeline).notes_count == 4


def test_a_retried_note_is_kept_once_and_the_detectors_resolution_is_no_note() -> None:
    kept = note("n_00000000000000aa", 5, 14, "same words", exception_id=REPORT)
    retried = note("n_00000000000000aa", 5, 16, "same words", exception_id=REPORT)
    automatic = ev(
        "exception.resolved",
        6,
        source="wismo",
        exception_id=REPORT,
        automatic=True,
        note="the condition cleared",
    )
    timeline = every_order([placed(), report(), kept, retried, automatic])
    assert [n.note_id for n in timeline.notes] == ["n_00000000000000aa"]
    assert timeline.notes[0].at == datetime(2026, 3, 5, 14, tzinfo=UTC)
    assert exception(timeline).notes_count == 1


def test_customer_messages_are_kept_in_time_order() -> None:
    later = agent(
        "customer.messaged",
        6,
        message_id="m_0000000000000002",
        template="refund_sent",
        by="agent-7",
        exception_id=REPORT,
    )
    earlier = agent(
        "customer.messaged",
        5,
        message_id="m_0000000000000001",
        template="delay_apology",
        by="agent-9",
        text="Sorry for the wait.",
    )
    timeline = every_order([placed(), report(), later, earlier])
    assert [
        (m.message_id, m.template, m.by, m.text, m.exception_id) for m in timeline.messages
    ] == [
        ("m_0000000000000001", "delay_apology", "agent-9", "Sorry for the wait.", None),
        ("m_0000000000000002", "refund_sent", "agent-7", None, REPORT),
    ]


# cancel requests ------------------------------------------------------------------------


def cancel(kind: str, day: int, **extra: Any) -> Event:
    source = "customer" if kind == "cancel.requested" else "oms"
    return ev(kind, day, source=source, request_id="cq_0123456789abcdef", **extra)


def test_a_cancel_request_is_confirmed_by_the_oms_without_cancelling_anything_itself() -> None:
    asked = cancel("cancel.requested", 2, lines=[{"line_id": "B", "quantity": 1}], reason="late")
    confirmed = cancel("cancel.confirmed", 3, note="cancelled in the OMS")
    pending = fold([placed(), asked])
    (request,) = pending.cancel_requests
    assert request.status is CancelStatus.REQUESTED
    assert (request.lines, request.reason) == ({"B": 1}, "late")
    assert pending.status is OrderStatus.PLACED
    timeline = every_order([placed(), asked, confirmed])
    (request,) = timeline.cancel_requests
    assert request.status is CancelStatus.CONFIRMED
    assert request.requested_at == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert request.decided_at == datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert request.note == "cancelled in the OMS"
    # the OMS's own order.cancelled is what cancels the lines
    assert [line.cancelled_quantity for line in timeline.lines] == [0, 0]
    cancelled = ev("order.cancelled", 3, lines=[{"line_id": "B", "quantity": 1}])
    assert [
        line.cancelled_quantity for line in fold([placed(), asked, confirmed, cancelled]).lines
    ] == [0, 1]


def test_a_rejected_cancel_request_stays_rejected() -> None:
    asked = cancel("cancel.requested", 2, lines=A1)
    rejected = cancel("cancel.rejected", 3, note="already packed")
    (request,) = every_order([placed(), asked, rejected]).cancel_requests
    assert (request.status, request.note) == (CancelStatus.REJECTED, "already packed")


# returns --------------------------------------------------------------------------------


def returned(kind: str, day: int, **extra: Any) -> Event:
    return ev(kind, day, source="customer" if kind == "return.requested" else "oms", **extra)


def test_a_requested_return_starts_at_requested_then_is_authorized() -> None:
    lines = [{"line_id": "A", "quantity": 1, "reason": "too small"}]
    asked = returned("return.requested", 6, return_id="rr_0123456789abcdef", lines=lines)
    base = [placed(), shipped("1ZAAA0001", A1), scan("1ZAAA0001", "delivered", 4)]
    (view,) = fold([*base, asked]).returns
    assert view.status is ReturnStatus.REQUESTED
    assert view.requested_at == datetime(2026, 3, 6, 12, tzinfo=UTC)
    assert (view.lines, view.line_reasons) == ({"A": 1}, {"A": "too small"})
    authorized = returned(
        "return.authorized", 7, return_id="rr_0123456789abcdef", tracking_number="1ZRET0001"
    )
    (view,) = every_order([*base[:2], asked, authorized]).returns
    assert view.status is ReturnStatus.AUTHORIZED
    assert view.authorized_at == datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert view.line_reasons == {"A": "too small"}
    assert fold([*base, asked, authorized]).status is fold(base).status  # nothing came back yet


def test_a_return_the_oms_creates_still_starts_at_authorized() -> None:
    shipped_back = returned("return.in_transit", 7, return_id="R1")
    (view,) = fold([placed(), returned("return.authorized", 6, return_id="R1")]).returns
    assert (view.status, view.requested_at) == (ReturnStatus.AUTHORIZED, None)
    (view,) = fold([placed(), shipped_back]).returns
    assert view.status is ReturnStatus.IN_TRANSIT


# hand-linked shipments ------------------------------------------------------------------


def linked(number: str, day: int = 4, **extra: Any) -> Event:
    return agent("shipment.linked", day, tracking_number=number, by="agent-7", **extra)


def test_a_hand_linked_number_gets_its_own_shipment_and_its_scans() -> None:
    scans = [scan("1ZLOST0001", "in_transit", 3), scan("1ZLOST0001", "delivered", 5, linked=True)]
    parked = fold([placed(), *scans])
    assert len(parked.orphan_checkpoints) == 2
    timeline = every_order([placed(), linked("1ZLOST0001", carrier="ups"), *scans])
    (shipment,) = timeline.shipments
    assert (shipment.shipment_id, shipment.tracking_number) == ("linked:1ZLOST0001", "1ZLOST0001")
    assert (shipment.carrier, shipment.linked_by) == ("ups", "agent-7")
    assert shipment.status is TrackingStatus.DELIVERED
    assert [c.status for c in shipment.checkpoints] == [
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.DELIVERED,
    ]
    assert timeline.orphan_checkpoints == []


def test_a_link_and_the_oms_shipment_naming_its_number_make_one_shipment() -> None:
    events = [
        placed(),
        linked("1ZAAA0001", day=2),
        shipped("1ZAAA0001", A1, day=3, shipment_id="S1"),
        scan("1ZAAA0001", "in_transit", 4),
    ]
    timeline = every_order(events)
    (shipment,) = timeline.shipments
    assert (shipment.shipment_id, shipment.carrier, shipment.linked_by) == ("S1", "ups", "agent-7")
    assert len(shipment.checkpoints) == 1


def test_linking_a_number_a_return_names_leaves_its_scans_to_the_return() -> None:
    authorized = returned("return.authorized", 6, return_id="R1", tracking_number="1ZRET0001")
    timeline = fold(
        [placed(), authorized, linked("1ZRET0001", day=7), scan("1ZRET0001", "in_transit", 8)]
    )
    assert timeline.shipments == []
    assert len(timeline.returns[0].checkpoints) == 1


# the fold continues with the actions, and old documents still read -----------------------


def test_actions_continue_the_fold_but_new_returns_and_links_refold() -> None:
    base = [placed(), shipped("1ZAAA0001", A1), report()]
    state = OrderFold.of(base)
    actions = [
        assigned(5, 13, "agent-7"),
        note("n_0000000000000001", 5, 14, "called", exception_id=REPORT),
        escalated(6, "no answer"),
        cancel("cancel.requested", 7, lines=A1),
    ]
    for action in actions:
        assert action.kind in CONTINUED_KINDS
        assert state.extend([action])
    assert timeline_to_json(state.timeline) == timeline_to_json(fold([*base, *actions]))
    assert not state.extend([linked("1ZNEW0001", day=9)])
    assert not state.extend([returned("return.requested", 9, return_id="rr_0123456789abcdef")])
    assert {EventKind.SHIPMENT_LINKED, EventKind.RETURN_REQUESTED}.isdisjoint(CONTINUED_KINDS)


def test_a_timeline_stored_before_self_service_still_reads() -> None:
    timeline = fold([placed(), shipped("1ZAAA0001", A1), report(), linked("1ZBBB0001")])
    document = timeline_to_dict(timeline)
    for key in ("notes", "cancel_requests", "messages"):
        del document[key]
    for shipment in document["shipments"]:
        del shipment["linked_by"]
    new_fields = set(ExceptionView.__dataclass_fields__) - {
        "exception_id", "state", "type", "severity", "owner", "subject", "reason", "message",
        "opened_at", "acknowledged_at", "resolved_at", "acknowledged_by", "resolved_by", "note",
        "automatic_resolution",
    }  # fmt: skip
    for view in document["exceptions"]:
        for key in new_fields:
            del view[key]
    old = timeline_from_json(orjson.dumps(document))
    assert (old.notes, old.cancel_requests, old.messages) == ([], [], [])
    assert exception(old).assignee is None
    assert exception(old).reported_lines == {}
    assert timeline_from_json(timeline_to_json(timeline)) == timeline


def test_orders_are_told_apart() -> None:
    assert fold([placed(), report()]).order_id == ORDER
