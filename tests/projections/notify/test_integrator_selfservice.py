"""Integrator events of self-service: requested returns, cancel requests, customer reports,
assignment and escalation — each change told once, in order, with what an OMS needs to act."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from projections.notify.integrator import integrator_events
from projections.notify.model import EVENT_TYPES
from projections.notify.subscriptions import known_event_type
from projections.timeline import fold
from projections.timeline_model import (
    CancelRequestView,
    CaseView,
    ExceptionView,
    ReturnView,
    Timeline,
)
from tests.projections.notify.journeys import example, example_events
from wismo.events import Event, event_from_dict
from wismo.vocab import CancelStatus, ExceptionState, ExceptionType, ProblemType, ReturnStatus

T0 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def _order(**changes: object) -> Timeline:
    base = Timeline("ORD-7", order_number="7", placed_at=T0, last_event_at=T0, version=3)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _told(timeline: Timeline, handled: dict[str, str]) -> list[tuple[str, str]]:
    events, entries = integrator_events(timeline, handled)
    handled |= entries
    for event in events:
        orjson.dumps(event.data)  # JSON-able
    return [(e.type, e.subject) for e in events if e.type != "order.status_changed"]


def test_new_event_types_are_subscribable() -> None:
    for kind in (
        "return.requested",
        "cancel.requested",
        "cancel.confirmed",
        "cancel.rejected",
        "exception.assigned",
        "exception.escalated",
    ):
        assert kind in EVENT_TYPES
        assert known_event_type(kind)
    assert known_event_type("cancel.*")


def test_a_cancel_request_is_told_when_asked_and_when_the_oms_answers() -> None:
    handled: dict[str, str] = {}
    asked = CancelRequestView(
        "cq_1", lines={"L1": 1}, reason="ordered twice", requested_at=T0 + timedelta(minutes=5)
    )
    assert _told(_order(cancel_requests=[asked]), handled) == [("cancel.requested", "cq_1")]
    events, _ = integrator_events(_order(cancel_requests=[asked]), {})
    request = next(e for e in events if e.type == "cancel.requested")
    assert request.data["order_id"] == "ORD-7"
    assert request.data["cancel"] == {
        "request_id": "cq_1",
        "status": "requested",
        "lines": {"L1": 1},
        "reason": "ordered twice",
        "requested_at": (T0 + timedelta(minutes=5)).isoformat(),
        "decided_at": None,
        "note": None,
    }
    assert request.occurred_at == T0 + timedelta(minutes=5)
    assert _told(_order(cancel_requests=[asked]), handled) == []  # nothing new
    confirmed = dataclasses.replace(
        asked, status=CancelStatus.CONFIRMED, decided_at=T0 + timedelta(hours=1)
    )
    assert _told(_order(cancel_requests=[confirmed]), handled) == [("cancel.confirmed", "cq_1")]
    assert _told(_order(cancel_requests=[confirmed]), handled) == []


def test_a_cancel_request_first_seen_rejected_tells_both_steps_in_order() -> None:
    rejected = CancelRequestView(
        "cq_2",
        status=CancelStatus.REJECTED,
        lines={"L2": 2},
        requested_at=T0,
        decided_at=T0 + timedelta(minutes=30),
        note="already packed",
    )
    events, entries = integrator_events(_order(cancel_requests=[rejected]), {})
    steps = [e for e in events if e.subject == "cq_2"]
    assert [e.type for e in steps] == ["cancel.requested", "cancel.rejected"]
    assert [e.occurred_at for e in steps] == [T0, T0 + timedelta(minutes=30)]
    assert steps[1].data["cancel"]["note"] == "already packed"
    assert entries["w.c:cq_2"] == "rejected"
    # an answer whose request was never seen: only the answer
    orphan = dataclasses.replace(rejected, requested_at=None)
    events, _ = integrator_events(_order(cancel_requests=[orphan]), {})
    assert [e.type for e in events if e.subject == "cq_2"] == ["cancel.rejected"]


def test_a_requested_return_is_told_with_its_lines_and_reasons_then_its_progress() -> None:
    handled: dict[str, str] = {}
    asked = ReturnView(
        "rr_1",
        status=ReturnStatus.REQUESTED,
        requested_at=T0,
        lines={"L1": 1},
        line_reasons={"L1": "too small"},
    )
    assert _told(_order(returns=[asked]), handled) == [("return.requested", "rr_1")]
    events, _ = integrator_events(_order(returns=[asked]), {})
    body = next(e for e in events if e.type == "return.requested").data["return"]
    assert body["lines"] == {"L1": 1}
    assert body["line_reasons"] == {"L1": "too small"}
    assert body["status"] == "requested"
    authorized = dataclasses.replace(
        asked, status=ReturnStatus.AUTHORIZED, authorized_at=T0 + timedelta(days=1)
    )
    assert _told(_order(returns=[authorized]), handled) == [("return.authorized", "rr_1")]
    # a return authorized by the OMS without a request on /track has no return.requested
    direct = ReturnView("RMA-9", status=ReturnStatus.AUTHORIZED, authorized_at=T0)
    assert _told(_order(returns=[direct]), {}) == [("return.authorized", "RMA-9")]


def _report(**changes: object) -> ExceptionView:
    view = ExceptionView(
        "cr_0123456789abcdef",
        ExceptionState.OPEN,
        type=ExceptionType.CUSTOMER_REPORTED,
        opened_at=T0,
        problem=ProblemType.DAMAGED,
        reported_lines={"L1": 1},
        reported_by_customer=True,
        message="the box was crushed",
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


def test_a_customer_report_goes_out_as_exception_opened_with_its_problem() -> None:
    events, _ = integrator_events(_order(exceptions=[_report()]), {})
    opened = next(e for e in events if e.type == "exception.opened")
    data = opened.data["exception"]
    assert data["type"] == "customer_reported"
    assert data["problem"] == "damaged"
    assert data["reported_by_customer"] is True
    assert data["lines"] == {"L1": 1}
    assert "the box was crushed" not in orjson.dumps(opened.data).decode()  # the customer's words
    assert not [e for e in events if e.type in ("exception.assigned", "exception.escalated")]


def test_assignment_and_escalation_are_told_on_each_change() -> None:
    handled: dict[str, str] = {}
    exc = "cr_0123456789abcdef"
    assert ("exception.opened", exc) in _told(_order(exceptions=[_report()]), handled)
    taken = _report(assignee="ana", assigned_at=T0 + timedelta(minutes=2), assigned_by="ana")
    assert _told(_order(exceptions=[taken]), handled) == [("exception.assigned", exc)]
    assert _told(_order(exceptions=[taken]), handled) == []
    back = _report(assignee=None, assigned_at=T0 + timedelta(minutes=9), assigned_by="ana")
    events, _ = integrator_events(_order(exceptions=[back]), handled)
    assert [(e.type, e.data["exception"]["assignee"]) for e in events] == [
        ("exception.assigned", None)
    ]
    _told(_order(exceptions=[back]), handled)
    again = _report(assignee="ana", assigned_at=T0 + timedelta(minutes=20), assigned_by="sue")
    events, _ = integrator_events(_order(exceptions=[again]), handled)
    first, _ = integrator_events(_order(exceptions=[taken]), {"w.e:" + exc: "open"})
    assert events[0].id != first[0].id  # the same assignee again: a change of its own
    _told(_order(exceptions=[again]), handled)
    up = dataclasses.replace(
        again,
        escalated_at=T0 + timedelta(hours=1),
        escalated_by="ana",
        escalated_to="sue",
        case=CaseView("salesforce", "500xx", "00001042"),
    )
    assert _told(_order(exceptions=[up]), handled) == [("exception.escalated", exc)]
    events, _ = integrator_events(_order(exceptions=[up]), {"w.e:" + exc: "open"})
    escalated = next(e for e in events if e.type == "exception.escalated")
    assert escalated.data["exception"]["case_number"] == "00001042"
    assert escalated.data["exception"]["escalated_to"] == "sue"
    assert escalated.occurred_at == T0 + timedelta(hours=1)
    assert _told(_order(exceptions=[up]), handled) == []


def test_the_example_order_gains_no_self_service_events() -> None:
    events, _ = integrator_events(example(), {})
    kinds = {e.type for e in events}
    assert not kinds & {"exception.assigned", "exception.escalated", "return.requested"}
    assert not any(k.startswith("cancel.") for k in kinds)


_STATUSES = st.sampled_from(list(CancelStatus))


@given(st.lists(_STATUSES, min_size=1, max_size=6))
def test_a_cancel_request_is_told_at_most_once_per_step_whatever_is_seen(
    seen: list[CancelStatus],
) -> None:
    handled: dict[str, str] = {}
    told: list[str] = []
    for status in seen:
        decided = None if status is CancelStatus.REQUESTED else T0 + timedelta(hours=1)
        view = CancelRequestView("cq_9", status=status, requested_at=T0, decided_at=decided)
        told += [kind for kind, _ in _told(_order(cancel_requests=[view]), handled)]
    assert len(told) == len(set(told))
    assert told[0] == "cancel.requested"
    assert len([k for k in told if k != "cancel.requested"]) <= 1


def _event(n: int, kind: str, payload: dict[str, object], minute: int, source: str) -> Event:
    at = (T0 + timedelta(days=3, minutes=minute)).isoformat()
    return event_from_dict(
        {"event_id": f"self-{n}", "source": source, "kind": kind, "order_id": "ORD-1001",
         "occurred_at": at, "received_at": at, "payload": payload}
    )  # fmt: skip


def test_through_the_fold_each_action_becomes_its_webhook_event_once() -> None:
    report = "cr_0000000000000001"
    actions = [
        _event(1, "return.requested", {"return_id": "rr_0000000000000001",
               "lines": [{"line_id": "L1", "quantity": 1, "reason": "too small"}]}, 0, "customer"),
        _event(2, "cancel.requested", {"request_id": "cq_0000000000000001",
               "lines": [{"line_id": "L2", "quantity": 1}]}, 1, "customer"),
        _event(3, "problem.reported", {"exception_id": report, "problem": "damaged",
               "text": "crushed", "lines": [{"line_id": "L1", "quantity": 1}]}, 2, "customer"),
        _event(4, "exception.assigned", {"exception_id": report, "assignee": "ana",
               "by": "ana"}, 3, "agent"),
        _event(5, "exception.escalated", {"exception_id": report, "reason": "a second one",
               "by": "ana"}, 4, "agent"),
        _event(6, "cancel.rejected", {"request_id": "cq_0000000000000001",
               "note": "already shipped"}, 60, "oms"),
    ]  # fmt: skip
    handled: dict[str, str] = {}
    told: list[tuple[str, str]] = []
    before = example_events()
    for n in range(len(actions) + 1):
        told += _told(fold(before + actions[:n], "ORD-1001"), handled)
    mine = [t for t in told if t[1].startswith(("rr_", "cq_", "cr_"))]
    assert mine == [
        ("return.requested", "rr_0000000000000001"),
        ("cancel.requested", "cq_0000000000000001"),
        ("exception.opened", report),
        ("exception.assigned", report),
        ("exception.escalated", report),
        ("cancel.rejected", "cq_0000000000000001"),
    ]


@given(st.lists(st.sampled_from([None, "ana", "bo"]), min_size=1, max_size=8))
def test_each_change_of_assignee_is_told_once_with_its_own_id(assignees: list[str | None]) -> None:
    handled = {"w.e:" + _report().exception_id: "open"}
    told: list[tuple[str | None, str]] = []
    for n, assignee in enumerate(assignees):
        view = _report(assignee=assignee, assigned_at=T0 + timedelta(minutes=n))
        events, entries = integrator_events(_order(exceptions=[view]), handled)
        handled |= entries
        assigned = [e for e in events if e.type == "exception.assigned"]
        told += [(e.data["exception"]["assignee"], e.id) for e in assigned]
    changes: list[str | None] = []
    for assignee in assignees:
        if (changes[-1] if changes else None) != assignee:
            changes.append(assignee)
    assert [who for who, _ in told] == changes
    assert len({event_id for _, event_id in told}) == len(told)
