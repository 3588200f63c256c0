"""What a customer may ask for on /track, and the events it becomes: eligibility read from the
folded timeline (returns inside the window, cancellation of lines not yet in a fulfilment order,
problem reports once delivered), deterministic ids, and the customer's view of each request."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.customer_actions import (
    ProblemRequest,
    ReturnLineRequest,
    cancel_requested,
    cancellable_lines,
    delivered_lines,
    in_returns,
    problem_reported,
    return_requested,
    returnable_at,
    returnable_lines,
)
from projections.customer_order import customer_order
from projections.exception_flow import Refusal
from projections.timeline import fold
from projections.timeline_model import Timeline
from wismo.events import Event, event_from_dict
from wismo.vocab import ProblemType

ORDER = "ORD-SELF"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = 30.0


def _event(
    event_id: str, kind: str, at: datetime, payload: dict[str, Any], order: str = ORDER
) -> Event:
    return event_from_dict(
        {
            "event_id": f"{event_id}:{order}",
            "source": "test",
            "kind": kind,
            "order_id": order,
            "occurred_at": at.isoformat(),
            "payload": payload,
        }
    )


def placed(lines: dict[str, int], order: str = ORDER) -> Event:
    return _event(
        "oms:placed",
        "order.placed",
        T0,
        {
            "order_number": f"S-{order}",
            "customer_email": "self@example.com",
            "lines": [{"line_id": i, "name": f"item {i}", "quantity": q} for i, q in lines.items()],
        },
        order,
    )


def shipped(n: int, lines: dict[str, int], at: datetime, order: str = ORDER) -> list[Event]:
    fulfilment = f"FO-{n}"
    quantities = [{"line_id": i, "quantity": q} for i, q in lines.items()]
    return [
        _event(
            f"wms:{fulfilment}:created",
            "fulfilment.created",
            at - timedelta(hours=1),
            {"fulfilment_order_id": fulfilment, "lines": quantities},
            order,
        ),
        _event(
            f"wms:{fulfilment}:shipped",
            "fulfilment.shipped",
            at,
            {
                "shipment_id": f"SH-{n}",
                "fulfilment_order_id": fulfilment,
                "carrier": "ups",
                "tracking_number": f"1ZSELF{n:04d}",
                "lines": quantities,
            },
            order,
        ),
    ]


def delivered(n: int, at: datetime, order: str = ORDER) -> Event:
    return event_from_dict(
        {
            "event_id": f"ups:1ZSELF{n:04d}:D",
            "source": "ups",
            "kind": "tracking.checkpoint",
            "order_id": order,
            "tracking_number": f"1ZSELF{n:04d}",
            "occurred_at": at.isoformat(),
            "payload": {"status": "delivered", "carrier": "ups"},
        }
    )


def delivered_order(
    lines: dict[str, int], at: datetime = T0 + timedelta(days=2), order: str = ORDER, n: int = 1
) -> list[Event]:
    """An order whose one parcel (number ``n``) holding every line was delivered ``at``."""
    return [
        placed(lines, order),
        *shipped(n, lines, at - timedelta(days=1), order),
        delivered(n, at, order),
    ]


def payload_id(event: Event, name: str) -> str:
    return str(getattr(event.payload, name))


def accepted(outcome: Event | Refusal) -> Event:
    assert not isinstance(outcome, Refusal), outcome
    return outcome


def refused(outcome: Event | Refusal, status: int) -> str:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.status == status, outcome
    return outcome.reason


# returns ------------------------------------------------------------------------------------


def test_a_delivered_line_is_returnable_inside_the_window_only() -> None:
    events = delivered_order({"L1": 2, "L2": 1})
    timeline = fold(events)
    at = T0 + timedelta(days=2)
    assert {r.line_id: r.quantity for r in returnable_lines(timeline, WINDOW)} == {"L1": 2, "L2": 1}
    inside = at + timedelta(days=29)
    event = accepted(
        return_requested(
            timeline,
            [ReturnLineRequest("L1", 1, "too small")],
            key=None,
            now=inside,
            window_days=WINDOW,
        )
    )
    assert re.fullmatch(r"rr_[0-9a-f]{16}", payload_id(event, "return_id"))
    assert event.source == "customer"
    assert event.occurred_at == inside
    late = at + timedelta(days=31)
    reason = refused(
        return_requested(
            timeline, [ReturnLineRequest("L1", 1, "x")], key=None, now=late, window_days=WINDOW
        ),
        409,
    )
    assert "window has closed" in reason
    too_many = [ReturnLineRequest("L1", 3, "x")]
    assert "at most 2" in refused(
        return_requested(timeline, too_many, key=None, now=inside, window_days=WINDOW), 422
    )


def test_parcels_that_name_no_lines_deliver_every_line_not_cancelled() -> None:
    events = [
        placed({"L1": 3, "L2": 1}),
        _event("oms:cancel", "order.cancelled", T0, {"lines": [{"line_id": "L1", "quantity": 1}]}),
        _event(
            "wms:shipped",
            "fulfilment.shipped",
            T0 + timedelta(hours=2),
            {"shipment_id": "SH-1", "carrier": "ups", "tracking_number": "1ZSELF0001"},
        ),
    ]
    assert returnable_lines(fold(events), WINDOW) == []  # not delivered yet
    events.append(delivered(1, T0 + timedelta(days=1)))
    offered = {r.line_id: r.quantity for r in returnable_lines(fold(events), WINDOW)}
    assert offered == {"L1": 2, "L2": 1}


def test_a_line_not_delivered_is_not_returnable() -> None:
    events = [placed({"L1": 1, "L2": 1}), *shipped(1, {"L1": 1}, T0 + timedelta(days=1))]
    timeline = fold(events)
    assert returnable_lines(timeline, WINDOW) == []
    outcome = return_requested(
        timeline, [ReturnLineRequest("L1", 1, "x")], key=None, now=T0, window_days=WINDOW
    )
    assert "not delivered" in refused(outcome, 409)
    unknown = return_requested(
        timeline, [ReturnLineRequest("L9", 1, "x")], key=None, now=T0, window_days=WINDOW
    )
    refused(unknown, 422)


def test_a_requested_return_shows_with_its_progress_scans_and_refund() -> None:
    events = delivered_order({"L1": 2})
    now = T0 + timedelta(days=3)
    request = accepted(
        return_requested(
            fold(events),
            [ReturnLineRequest("L1", 2, "does not fit")],
            key="k1",
            now=now,
            window_days=WINDOW,
        )
    )
    events.append(request)
    return_id = payload_id(request, "return_id")
    view = customer_order(fold(events))
    (leg,) = view["returns"]
    assert leg["status"] == "requested"
    assert leg["status_text"] == "Return requested"
    assert leg["lines"] == [
        {"line_id": "L1", "name": "item L1", "quantity": 2, "reason": "does not fit"}
    ]
    assert [s["step"] for s in leg["progress"] if s["current"]] == ["requested"]
    assert view["actions"]["returnable"] == []  # all of it is asked for
    later = now + timedelta(days=2)
    events += [
        _event(
            "oms:ra",
            "return.authorized",
            later,
            {"return_id": return_id, "carrier": "ups", "tracking_number": "1ZBACK0001"},
        ),
        event_from_dict(
            {
                "event_id": "ups:1ZBACK0001:I",
                "source": "ups",
                "kind": "tracking.checkpoint",
                "order_id": ORDER,
                "tracking_number": "1ZBACK0001",
                "occurred_at": (later + timedelta(hours=3)).isoformat(),
                "payload": {"status": "in_transit", "carrier": "ups"},
            }
        ),
        _event("oms:rr", "return.received", later + timedelta(days=1), {"return_id": return_id}),
        _event(
            "psp:refund",
            "refund.issued",
            later + timedelta(days=2),
            {"refund_id": "RF-1", "amount": "39.80", "currency": "EUR", "return_id": return_id},
        ),
    ]
    (leg,) = customer_order(fold(events))["returns"]
    assert leg["status"] == "received"
    assert [s["done"] for s in leg["progress"]] == [True, True, True, True]
    assert len(leg["checkpoints"]) >= 1
    assert leg["refund"] == {
        "amount": "39.80",
        "currency": "EUR",
        "issued_at": later + timedelta(days=2),
    }
    assert Decimal(leg["refund"]["amount"]) == Decimal("39.80")


def test_a_rejected_return_gives_the_quantity_back() -> None:
    events = delivered_order({"L1": 1})
    request = accepted(
        return_requested(
            fold(events),
            [ReturnLineRequest("L1", 1, "broken")],
            key=None,
            now=T0 + timedelta(days=3),
            window_days=WINDOW,
        )
    )
    events.append(request)
    assert returnable_lines(fold(events), WINDOW) == []
    return_id = payload_id(request, "return_id")
    events.append(
        _event("oms:rej", "return.rejected", T0 + timedelta(days=4), {"return_id": return_id})
    )
    timeline = fold(events)
    assert [(r.line_id, r.quantity) for r in returnable_lines(timeline, WINDOW)] == [("L1", 1)]
    (leg,) = customer_order(timeline)["returns"]
    assert [s["problem"] for s in leg["progress"]] == [True, False, False, False]


# cancellation -------------------------------------------------------------------------------


def test_only_lines_in_no_fulfilment_order_may_be_cancelled() -> None:
    events = [placed({"L1": 1, "L2": 3}), *shipped(1, {"L1": 1}, T0 + timedelta(hours=5))]
    timeline = fold(events)
    assert [(c.line_id, c.quantity) for c in cancellable_lines(timeline)] == [("L2", 3)]
    now = T0 + timedelta(hours=6)
    reason = refused(cancel_requested(timeline, [("L1", 1)], None, key=None, now=now), 409)
    assert "fulfilment order" in reason
    refused(cancel_requested(timeline, [("L2", 4)], None, key=None, now=now), 422)
    request = accepted(
        cancel_requested(timeline, [("L2", 2)], "changed my mind", key=None, now=now)
    )
    request_id = payload_id(request, "request_id")
    assert re.fullmatch(r"cq_[0-9a-f]{16}", request_id)
    events.append(request)
    view = customer_order(fold(events))
    (shown,) = view["cancel_requests"]
    assert shown["status"] == "requested"
    assert shown["reason"] == "changed my mind"
    assert view["actions"]["cancellable"] == [{"line_id": "L2", "name": "item L2", "quantity": 1}]
    events.append(
        _event(
            "oms:cq-no",
            "cancel.rejected",
            now + timedelta(hours=1),
            {"request_id": request_id, "note": "already picked"},
        )
    )
    view = customer_order(fold(events))
    assert view["cancel_requests"][0]["status"] == "rejected"
    assert view["cancel_requests"][0]["note"] == "already picked"
    assert view["actions"]["cancellable"][0]["quantity"] == 3


def test_a_fulfilment_order_known_from_its_shipment_holds_the_shipments_lines() -> None:
    events = [
        placed({"L1": 1, "L2": 1}),
        _event(
            "wms:shipped-only",
            "fulfilment.shipped",
            T0 + timedelta(hours=3),
            {
                "shipment_id": "SH-9",
                "fulfilment_order_id": "FO-9",
                "carrier": "ups",
                "tracking_number": "1ZSELF0009",
                "lines": [{"line_id": "L1", "quantity": 1}],
            },
        ),
    ]
    assert [c.line_id for c in cancellable_lines(fold(events))] == ["L2"]


def test_a_fulfilment_order_without_lines_may_hold_any_line() -> None:
    events = [
        placed({"L1": 1}),
        _event("wms:fo", "fulfilment.created", T0, {"fulfilment_order_id": "FO-X"}),
    ]
    assert cancellable_lines(fold(events)) == []


# problem reports ----------------------------------------------------------------------------


def test_a_problem_is_reported_once_delivered_and_shown_with_its_state() -> None:
    report = ProblemRequest(ProblemType.DAMAGED, "the box was crushed", "SH-1", (("L1", 1),))
    before = fold([placed({"L1": 1}), *shipped(1, {"L1": 1}, T0 + timedelta(hours=5))])
    refused(problem_reported(before, report, attachment=None, key=None, now=T0), 409)
    events = delivered_order({"L1": 1})
    timeline = fold(events)
    unknown = ProblemRequest(ProblemType.DAMAGED, "x", "SH-404")
    refused(problem_reported(timeline, unknown, attachment=None, key=None, now=T0), 422)
    photo = {"ref": "a" * 32 + ".jpg", "content_type": "image/jpeg", "size_bytes": 10}
    photo["sha256"] = "b" * 64
    now = T0 + timedelta(days=3)
    event = accepted(problem_reported(timeline, report, attachment=photo, key=None, now=now))
    exception_id = payload_id(event, "exception_id")
    assert re.fullmatch(r"cr_[0-9a-f]{16}", exception_id)
    events.append(event)
    view = customer_order(fold(events))
    (shown,) = view["problems"]
    assert shown["exception_id"] == exception_id
    assert shown["state"] == "open"
    assert shown["problem"] == "damaged"
    assert shown["text"] == "the box was crushed"
    assert shown["photo"] == {"ref": "a" * 32 + ".jpg", "content_type": "image/jpeg"}
    assert view["banner"] is None  # the customer's own report is theirs, not a delivery problem
    assert {p["problem"] for p in view["actions"]["problem_types"]} == set(ProblemType)


# ids ----------------------------------------------------------------------------------------


def test_a_double_submit_is_one_event_and_a_later_request_another() -> None:
    events = delivered_order({"L1": 3})
    timeline = fold(events)
    now = T0 + timedelta(days=3)
    asked = [ReturnLineRequest("L1", 1, "x")]

    def ask(t: Timeline, key: str | None, at: datetime = now) -> Event:
        return accepted(return_requested(t, asked, key=key, now=at, window_days=WINDOW))

    first, again = ask(timeline, None), ask(timeline, None, now + timedelta(seconds=1))
    assert first.event_id == again.event_id
    assert first.payload == again.payload
    later = ask(fold([*events, first]), None)
    assert later.event_id != first.event_id
    keyed = ask(timeline, "key-1")
    assert keyed.event_id == ask(fold([*events, keyed]), "key-1").event_id
    assert keyed.event_id != ask(timeline, "key-2").event_id


# the eligibility rules, over generated orders ------------------------------------------------

LINE_IDS = ["L1", "L2", "L3"]


@st.composite
def orders(draw: st.DrawFn) -> tuple[list[Event], datetime]:
    quantities = {i: draw(st.integers(1, 4)) for i in LINE_IDS[: draw(st.integers(1, 3))]}
    events = [placed(quantities)]
    left = dict(quantities)
    for n in range(draw(st.integers(0, 3))):
        lines = {}
        for line_id, have in left.items():
            take = draw(st.integers(0, have))
            if take:
                lines[line_id] = take
        if not lines:
            continue
        for line_id, take in lines.items():
            left[line_id] -= take
        ship_at = T0 + timedelta(hours=draw(st.integers(1, 100)))
        events += shipped(n, lines, ship_at)
        if draw(st.booleans()):
            events.append(delivered(n, ship_at + timedelta(days=draw(st.integers(1, 40)))))
    now = T0 + timedelta(days=draw(st.integers(0, 80)))
    return events, now


@given(orders(), st.data())
@settings(max_examples=150, deadline=None)
def test_what_is_offered_can_be_asked_for_once_and_no_more(
    story: tuple[list[Event], datetime], data: st.DataObject
) -> None:
    events, now = story
    timeline = fold(events)
    shipped_lines = {line_id for f in timeline.fulfilment_orders for line_id in f.lines} | {
        line_id for s in timeline.shipments for line_id in s.lines
    }
    offered = {c.line_id: c.quantity for c in cancellable_lines(timeline)}
    assert not set(offered) & shipped_lines
    if offered:
        cancel = [(line_id, data.draw(st.integers(1, most))) for line_id, most in offered.items()]
        too_many = [(line_id, most + 1) for line_id, most in offered.items()]
        refused(cancel_requested(timeline, too_many, None, key=None, now=now), 422)
        request = accepted(cancel_requested(timeline, cancel, None, key=None, now=now))
        left = {c.line_id: c.quantity for c in cancellable_lines(fold([*events, request]))}
        for line_id, quantity in cancel:
            assert left.get(line_id, 0) == offered[line_id] - quantity
        answer = data.draw(st.sampled_from(["cancel.confirmed", "cancel.rejected"]))
        decided = _event(
            "oms:answer", answer, now, {"request_id": payload_id(request, "request_id")}
        )
        after = {
            c.line_id: c.quantity for c in cancellable_lines(fold([*events, request, decided]))
        }
        assert after == (offered if answer == "cancel.rejected" else left)
    held, done = in_returns(timeline), delivered_lines(timeline)
    open_now = returnable_at(timeline, now, WINDOW)
    for returnable in returnable_lines(timeline, WINDOW):
        assert (
            1
            <= returnable.quantity
            <= done[returnable.line_id][0] - held.get(returnable.line_id, 0)
        )
        assert (returnable.line_id in open_now) == (now <= returnable.until)
    if not open_now:
        return
    asked = [
        ReturnLineRequest(r.line_id, data.draw(st.integers(1, r.quantity)), "reason")
        for r in open_now.values()
    ]
    over = [ReturnLineRequest(r.line_id, r.quantity + 1, "reason") for r in open_now.values()]
    refused(return_requested(timeline, over, key=None, now=now, window_days=WINDOW), 422)
    event = accepted(return_requested(timeline, asked, key=None, now=now, window_days=WINDOW))
    after = {r.line_id: r.quantity for r in returnable_lines(fold([*events, event]), WINDOW)}
    for line in asked:
        assert after.get(line.line_id, 0) == open_now[line.line_id].quantity - line.quantity
