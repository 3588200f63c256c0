"""Integrator events: what changed in an order since the last look, as webhook event types.

An order's state map (``handled``, an opaque str → str hash kept per order by the ``notify``
role) remembers what was last seen of the order's status, each parcel's tracking status, each
exception's state, assignee and escalation, each return's status, each cancel request's status
and each refund. :func:`integrator_events` compares the
timeline with it and returns the events to send and the entries to write back, under ``w.``
keys so they never collide with the journey's milestone keys.

Event ids are deterministic: an order or parcel status carries a change counter in its entry
(``delivered.3``: third change, now delivered), so the same timeline change planned twice (a
redelivery, a worker that died before saving the map) yields the same ids, and a status that
comes back later (in transit → exception → in transit) yields a new one.

:func:`webhook_body` is the JSON body of a delivery, in the payload shape Standard Webhooks
recommends: ``{"type", "timestamp", "data"}``; ``data.order_version`` is the timeline version,
so a receiver can drop a payload older than one it already holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from projections.notify.model import Message
from projections.timeline_model import CancelRequestView, ExceptionView, ReturnView, Timeline
from wismo.vocab import (
    CANCEL_RANK,
    EXCEPTION_STATE_RANK,
    RETURN_RANK,
    CancelStatus,
    ExceptionState,
    ReturnStatus,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ORDER = "w.o"  # the order's status
PARCEL = "w.s:"  # + shipment id: its tracking status
EXCEPTION = "w.e:"  # + exception id: its state
RETURN = "w.r:"  # + return id: its status
REFUND = "w.f:"  # + refund id
CANCEL = "w.c:"  # + cancel request id: its status
ASSIGNEE = "w.a:"  # + exception id: its assignee ("-": unassigned), with a change counter
ESCALATION = "w.x:"  # + exception id: when it was (last) escalated

RETURN_EVENT = {
    ReturnStatus.REQUESTED: "return.requested",
    ReturnStatus.AUTHORIZED: "return.authorized",
    ReturnStatus.IN_TRANSIT: "return.shipped",
    ReturnStatus.RECEIVED: "return.received",
    ReturnStatus.REJECTED: "return.rejected",
}
CANCEL_EVENT = {
    CancelStatus.REQUESTED: "cancel.requested",
    CancelStatus.CONFIRMED: "cancel.confirmed",
    CancelStatus.REJECTED: "cancel.rejected",
}
_UNASSIGNED = "-"
_EXCEPTION_STEPS = (
    (ExceptionState.OPEN, "exception.opened"),
    (ExceptionState.ACKNOWLEDGED, "exception.acknowledged"),
    (ExceptionState.RESOLVED, "exception.resolved"),
)


@dataclass(frozen=True, slots=True)
class IntegratorEvent:
    """One webhook event about an order. ``data`` is JSON-able."""

    id: str
    type: str
    subject: str
    occurred_at: datetime
    data: dict[str, Any]


def event_id(order_id: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join((order_id, *parts)).encode()).hexdigest()
    return "evt_" + digest[:24]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _common(timeline: Timeline) -> dict[str, Any]:
    return {
        "order_id": timeline.order_id,
        "order_number": timeline.order_number,
        "order_version": timeline.version,
        "status": timeline.status.value,
        "channel": timeline.channel.value if timeline.channel else None,
        "carriers": carriers_of(timeline),
    }


def carriers_of(timeline: Timeline) -> list[str]:
    return sorted({p.carrier for p in timeline.shipments if p.carrier})


def _changed(handled: Mapping[str, str], key: str, value: str) -> tuple[str, str] | None:
    """The new ``value.counter`` entry when ``value`` differs from the one last seen."""
    seen = handled.get(key)
    if seen is None:
        return f"{value}.1", "1"
    last, _, counter = seen.rpartition(".")
    if last == value:
        return None
    number = str(int(counter) + 1 if counter.isdigit() else 1)
    return f"{value}.{number}", number


class _Diff:
    """Collects the events and new state entries of one timeline."""

    def __init__(self, timeline: Timeline, handled: Mapping[str, str]) -> None:
        self.timeline, self.handled = timeline, handled
        self.events: list[IntegratorEvent] = []
        self.entries: dict[str, str] = {}
        self.at = timeline.last_event_at or timeline.placed_at or _EPOCH

    def add(
        self, kind: str, subject: str, at: datetime | None, extra: dict[str, Any], *ids: str
    ) -> None:
        order_id = self.timeline.order_id
        data = _common(self.timeline) | extra
        identity = event_id(order_id, kind, subject, *ids)
        self.events.append(IntegratorEvent(identity, kind, subject, at or self.at, data))

    def order(self) -> None:
        status = self.timeline.status.value
        change = _changed(self.handled, ORDER, status)
        if change is not None:
            self.entries[ORDER] = change[0]
            self.add("order.status_changed", self.timeline.order_id, None, {}, status, change[1])

    def parcels(self) -> None:
        for parcel in self.timeline.shipments:
            key = PARCEL + parcel.shipment_id
            change = _changed(self.handled, key, parcel.status.value)
            if change is None:
                continue
            self.entries[key] = change[0]
            shipment = {
                "shipment_id": parcel.shipment_id,
                "carrier": parcel.carrier,
                "tracking_number": parcel.tracking_number,
                "tracking_status": parcel.status.value,
                "reason": parcel.reason.value if parcel.reason else None,
                "estimated_delivery": (
                    parcel.estimated_delivery.isoformat() if parcel.estimated_delivery else None
                ),
                "delivered_at": _iso(parcel.delivered_at),
            }
            at = parcel.last_checkpoint_at
            self.add(
                "shipment.milestone",
                parcel.shipment_id,
                at,
                {"shipment": shipment},
                parcel.status.value,
                change[1],
            )

    def progress(
        self, key: str, status: StrEnum, ranks: Mapping[Any, int]
    ) -> tuple[int, int] | None:
        """(rank last seen or -1, rank now) of a status that only moves forward, recorded under
        ``key``; ``None`` when it is no further than what ``key`` last saw."""
        seen = self.handled.get(key)
        last = next((rank for known, rank in ranks.items() if known.value == seen), -1)
        now = ranks[status]
        if now <= last:
            return None
        self.entries[key] = status.value
        return last, now

    def exception(self, exception: ExceptionView) -> None:
        key = EXCEPTION + exception.exception_id
        moved = self.progress(key, exception.state, EXCEPTION_STATE_RANK)
        if moved is None:
            return
        last, done = moved
        body = {"exception": exception_data(exception)}
        times = (exception.opened_at, exception.acknowledged_at, exception.resolved_at)
        for index, (state, kind) in enumerate(_EXCEPTION_STEPS):
            skipped = state is ExceptionState.ACKNOWLEDGED and exception.acknowledged_at is None
            if last < index <= done and not (skipped and index < done):
                self.add(kind, exception.exception_id, times[index], body)

    def assignment(self, exception: ExceptionView) -> None:
        """``exception.assigned`` each time the assignee changes (``null``: back in the queue);
        an exception never assigned says nothing."""
        key = ASSIGNEE + exception.exception_id
        assignee = exception.assignee or _UNASSIGNED
        if key not in self.handled and assignee == _UNASSIGNED:
            return
        change = _changed(self.handled, key, assignee)
        if change is None:
            return
        self.entries[key] = change[0]
        body = {"exception": exception_data(exception)}
        at = exception.assigned_at
        self.add("exception.assigned", exception.exception_id, at, body, assignee, change[1])

    def escalation(self, exception: ExceptionView) -> None:
        """``exception.escalated`` when it is escalated (again, after a re-open)."""
        if exception.escalated_at is None:
            return
        key = ESCALATION + exception.exception_id
        at = exception.escalated_at.isoformat()
        if self.handled.get(key) == at:
            return
        self.entries[key] = at
        body = {"exception": exception_data(exception)}
        self.add("exception.escalated", exception.exception_id, exception.escalated_at, body, at)

    def return_leg(self, leg: ReturnView) -> None:
        moved = self.progress(RETURN + leg.return_id, leg.status, RETURN_RANK)
        if moved is None:
            return
        last, now = moved
        body = {
            "return": {
                "return_id": leg.return_id,
                "status": leg.status.value,
                "carrier": leg.carrier,
                "tracking_number": leg.tracking_number,
                "lines": dict(leg.lines),
                "reason": leg.reason,
                "line_reasons": dict(leg.line_reasons),
                "requested_at": _iso(leg.requested_at),
            }
        }
        steps = (
            (ReturnStatus.REQUESTED, leg.requested_at),
            (ReturnStatus.AUTHORIZED, leg.authorized_at),
            (ReturnStatus.IN_TRANSIT, leg.shipped_at),
            (ReturnStatus.RECEIVED, leg.received_at),
            (ReturnStatus.REJECTED, leg.rejected_at),
        )
        for status, at in steps:
            rank = RETURN_RANK[status]
            if last < rank <= now and (at is not None or status is leg.status):
                self.add(RETURN_EVENT[status], leg.return_id, at, body)

    def cancel_request(self, request: CancelRequestView) -> None:
        """``cancel.requested``, then ``cancel.confirmed`` or ``cancel.rejected`` (both, in
        order, when first seen decided)."""
        moved = self.progress(CANCEL + request.request_id, request.status, CANCEL_RANK)
        if moved is None:
            return
        last, now = moved
        body = {
            "cancel": {
                "request_id": request.request_id,
                "status": request.status.value,
                "lines": dict(request.lines),
                "reason": request.reason,
                "requested_at": _iso(request.requested_at),
                "decided_at": _iso(request.decided_at),
                "note": request.note,
            }
        }
        if last < 0 and (request.requested_at is not None or now == 0):
            self.add(
                CANCEL_EVENT[CancelStatus.REQUESTED], request.request_id, request.requested_at, body
            )
        if now > 0:
            self.add(CANCEL_EVENT[request.status], request.request_id, request.decided_at, body)

    def refunds(self) -> None:
        for refund in self.timeline.refunds:
            key = REFUND + refund.refund_id
            if key in self.handled:
                continue
            self.entries[key] = "1"
            body = {
                "refund": {
                    "refund_id": refund.refund_id,
                    "amount": str(refund.amount) if refund.amount is not None else None,
                    "currency": refund.currency or self.timeline.currency,
                    "return_id": refund.return_id,
                    "full": refund.full,
                }
            }
            self.add("refund.issued", refund.refund_id, refund.issued_at, body)


def exception_data(exception: ExceptionView) -> dict[str, Any]:
    """What a webhook says of an exception (never the customer's words nor their photo)."""
    case = exception.case
    return {
        "exception_id": exception.exception_id,
        "state": exception.state.value,
        "type": exception.type.value if exception.type else None,
        "severity": exception.severity.value if exception.severity else None,
        "owner": exception.owner.value if exception.owner else None,
        "subject": exception.subject,
        "reason": exception.reason.value if exception.reason else None,
        "problem": exception.problem.value if exception.problem else None,
        "reported_by_customer": exception.reported_by_customer,
        "lines": dict(exception.reported_lines),
        "opened_at": _iso(exception.opened_at),
        "acknowledged_at": _iso(exception.acknowledged_at),
        "resolved_at": _iso(exception.resolved_at),
        "assignee": exception.assignee,
        "assigned_at": _iso(exception.assigned_at),
        "escalated_at": _iso(exception.escalated_at),
        "escalated_to": exception.escalated_to,
        "case_number": case.case_number if case is not None else None,
    }


def integrator_events(
    timeline: Timeline, handled: Mapping[str, str]
) -> tuple[list[IntegratorEvent], dict[str, str]]:
    """The webhook events of what changed since ``handled``, and the state entries to write."""
    diff = _Diff(timeline, handled)
    diff.order()
    diff.parcels()
    for exception in timeline.exceptions:
        diff.exception(exception)
        diff.assignment(exception)
        diff.escalation(exception)
    for leg in timeline.returns:
        diff.return_leg(leg)
    for request in timeline.cancel_requests:
        diff.cancel_request(request)
    diff.refunds()
    return diff.events, diff.entries


def webhook_body(message: Message) -> bytes:
    """The JSON body of a webhook delivery: ``{"type", "timestamp", "data"}``."""
    data = dict(message.payload.get("data") or {})
    data["order_version"] = message.version
    body = {"type": message.kind, "timestamp": message.triggered_at, "data": data}
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)
