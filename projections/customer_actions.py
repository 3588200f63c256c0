"""What a customer may do with their order on /track, and the events their actions become. Pure.

Eligibility is read from the folded timeline alone:

* **returnable** — a line's delivered quantity (the lines of its delivered parcels, or of their
  fulfilment orders) less what returns already hold (every return but a rejected one), while
  the line's last delivery is at most ``return_window_days`` old. An order whose parcels name
  no lines at all counts every line as delivered once every parcel is delivered.
* **cancellable** — a line no fulfilment order or parcel names yet (and, while some fulfilment
  order or parcel names no lines, none: what it holds is unknown), less what is cancelled or
  asked to be; nothing once the order is cancelled.
* **problem types** — every :class:`~wismo.vocab.ProblemType` once a parcel was delivered (each
  is about what arrived, or did not although marked delivered).

Each action is one canonical event, ``source`` ``customer``, whose ``event_id`` is
deterministic: the action, the order and the client's ``Idempotency-Key`` when given, else the
content and the requests of that kind the order already holds — so a double submit is one
event, while the same request made again after the first was folded is a new one. The ids in
the payloads (``cr_``, ``rr_``, ``cq_`` + 16 hex) are a sha256 over the same inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from projections.exception_flow import Refusal
from projections.order_status import shipped_lines
from projections.timeline_model import Timeline
from wismo.errors import describe_validation_error
from wismo.events import Event, EventKind, event_from_dict
from wismo.ids import digest, natural_event_id
from wismo.vocab import CancelStatus, ProblemType, ReturnStatus

CUSTOMER_SOURCE = "customer"


@dataclass(frozen=True, slots=True)
class Returnable:
    """A delivered line that may still be returned: up to ``quantity`` until ``until``."""

    line_id: str
    quantity: int
    delivered_at: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class Cancellable:
    line_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ReturnLineRequest:
    line_id: str
    quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProblemRequest:
    problem: ProblemType
    text: str
    subject: str | None = None
    lines: tuple[tuple[str, int], ...] = ()


# eligibility -------------------------------------------------------------------------------


def _ordered(quantity: int | None) -> int:
    return 1 if quantity is None else quantity


def delivered_lines(timeline: Timeline) -> dict[str, tuple[int, datetime]]:
    """Per line: the quantity delivered and when the last of it was."""
    known = {line.line_id for line in timeline.lines}
    delivered: dict[str, tuple[int, datetime]] = {}
    parcels = timeline.shipments
    named = [(p, shipped_lines(timeline, p)) for p in parcels]
    if parcels and not any(lines for _, lines in named):
        times = [p.delivered_at for p in parcels]
        if all(times):
            last = max(t for t in times if t is not None)
            left = {
                line.line_id: _ordered(line.quantity) - line.cancelled_quantity
                for line in timeline.lines
            }
            return {line_id: (quantity, last) for line_id, quantity in left.items() if quantity > 0}
        return {}
    for parcel, lines in named:
        if parcel.delivered_at is None:
            continue
        for line_id, quantity in lines.items():
            if line_id not in known:
                continue
            have, at = delivered.get(line_id, (0, parcel.delivered_at))
            delivered[line_id] = (have + quantity, max(at, parcel.delivered_at))
    return delivered


def in_returns(timeline: Timeline) -> dict[str, int]:
    """Per line: the quantity every return but a rejected one holds (asked for or on its way)."""
    held: dict[str, int] = {}
    for leg in timeline.returns:
        if leg.status is ReturnStatus.REJECTED:
            continue
        for line_id, quantity in leg.lines.items():
            held[line_id] = held.get(line_id, 0) + quantity
    return held


def returnable_lines(timeline: Timeline, window_days: float) -> list[Returnable]:
    """Delivered lines with a quantity left to return, with the end of each one's window (not
    yet compared with any clock: :func:`returnable_at` does)."""
    held = in_returns(timeline)
    window = timedelta(days=window_days)
    ordered = {line.line_id: line for line in timeline.lines}
    found = []
    for line_id, (quantity, at) in delivered_lines(timeline).items():
        line = ordered[line_id]
        most = min(quantity, _ordered(line.quantity) - line.cancelled_quantity)
        left = most - held.get(line_id, 0)
        if left > 0:
            found.append(Returnable(line_id, left, at, at + window))
    return sorted(found, key=lambda r: _position(timeline, r.line_id))


def returnable_at(timeline: Timeline, now: datetime, window_days: float) -> dict[str, Returnable]:
    return {r.line_id: r for r in returnable_lines(timeline, window_days) if now <= r.until}


def cancellable_lines(timeline: Timeline) -> list[Cancellable]:
    """Lines no fulfilment order or parcel holds yet, less what is cancelled or asked to be."""
    if timeline.cancelled:
        return []
    holders = [set(shipped_lines(timeline, p)) for p in timeline.shipments] + [
        _fulfilment_lines(timeline, f.fulfilment_order_id, f.lines)
        for f in timeline.fulfilment_orders
    ]
    if any(not lines for lines in holders):
        return []  # a fulfilment order or parcel that names no lines may hold any of them
    taken = {line_id for lines in holders for line_id in lines}
    pending = _cancel_quantities(timeline, (CancelStatus.REQUESTED,))
    confirmed = _cancel_quantities(timeline, (CancelStatus.CONFIRMED,))
    found = []
    for line in timeline.lines:
        if line.line_id in taken:
            continue
        gone = max(line.cancelled_quantity, confirmed.get(line.line_id, 0))
        left = _ordered(line.quantity) - gone - pending.get(line.line_id, 0)
        if left > 0:
            found.append(Cancellable(line.line_id, left))
    return found


def _fulfilment_lines(timeline: Timeline, fulfilment_id: str, lines: dict[str, int]) -> set[str]:
    """The lines a fulfilment order holds: its own, or (known only from a shipment that named
    it) its parcels'."""
    if lines:
        return set(lines)
    return {
        line_id
        for parcel in timeline.shipments
        if parcel.fulfilment_order_id == fulfilment_id
        for line_id in parcel.lines
    }


def _cancel_quantities(timeline: Timeline, statuses: Iterable[CancelStatus]) -> dict[str, int]:
    wanted = set(statuses)
    totals: dict[str, int] = {}
    for request in timeline.cancel_requests:
        if request.status in wanted:
            for line_id, quantity in request.lines.items():
                totals[line_id] = totals.get(line_id, 0) + quantity
    return totals


def problem_types(timeline: Timeline) -> list[ProblemType]:
    """What a customer may report: every type once a parcel was delivered, else none."""
    if any(p.delivered_at is not None for p in timeline.shipments):
        return list(ProblemType)
    return []


def _position(timeline: Timeline, line_id: str) -> int:
    for index, line in enumerate(timeline.lines):
        if line.line_id == line_id:
            return index
    return len(timeline.lines)


# refusals ----------------------------------------------------------------------------------


def problem_refusal(timeline: Timeline, report: ProblemRequest) -> Refusal | None:
    """Why ``report`` cannot be made on this order now (``None``: it can)."""
    if report.problem not in problem_types(timeline):
        return Refusal(409, "a problem can be reported once a parcel of the order is delivered")
    if report.subject is not None and report.subject not in _subjects(timeline):
        return Refusal(422, f"subject {report.subject} is none of this order's parcels")
    known = {line.line_id: line for line in timeline.lines}
    for line_id, quantity in report.lines:
        line = known.get(line_id)
        if line is None:
            return Refusal(422, f"line {line_id} is not a line of this order")
        ordered = _ordered(line.quantity)
        if quantity > ordered:
            return Refusal(422, f"line {line_id}: {quantity} is more than the {ordered} ordered")
    return None


def _subjects(timeline: Timeline) -> set[str]:
    found: set[str] = set()
    for parcel in timeline.shipments:
        found.add(parcel.shipment_id)
        if parcel.tracking_number:
            found.add(parcel.tracking_number)
        found.update(p.tracking_number for p in parcel.packages)
    return found


def return_refusal(
    timeline: Timeline, lines: Sequence[ReturnLineRequest], now: datetime, window_days: float
) -> Refusal | None:
    if not lines:
        return Refusal(422, "name at least one line to return")
    if len({line.line_id for line in lines}) != len(lines):
        return Refusal(422, "name each line once")
    open_now = returnable_at(timeline, now, window_days)
    every = {r.line_id: r for r in returnable_lines(timeline, window_days)}
    delivered = delivered_lines(timeline)
    known = {line.line_id for line in timeline.lines}
    for asked in lines:
        if asked.line_id not in known:
            return Refusal(422, f"line {asked.line_id} is not a line of this order")
        if asked.line_id not in delivered:
            return Refusal(409, f"line {asked.line_id} is not delivered yet")
        found = open_now.get(asked.line_id)
        if found is None:
            closed = every.get(asked.line_id)
            if closed is None:
                return Refusal(409, f"line {asked.line_id} is already returned or asked to be")
            return Refusal(
                409,
                f"line {asked.line_id} could be returned until {closed.until:%Y-%m-%d %H:%M} UTC "
                f"({window_days:g} days after delivery); that window has closed",
            )
        if asked.quantity > found.quantity:
            return Refusal(
                422, f"line {asked.line_id}: at most {found.quantity} can still be returned"
            )
    return None


def cancel_refusal(timeline: Timeline, lines: Sequence[tuple[str, int]]) -> Refusal | None:
    if not lines:
        return Refusal(422, "name at least one line to cancel")
    if len({line_id for line_id, _ in lines}) != len(lines):
        return Refusal(422, "name each line once")
    if timeline.cancelled:
        return Refusal(409, "the order is already cancelled")
    open_lines = {c.line_id: c for c in cancellable_lines(timeline)}
    known = {line.line_id for line in timeline.lines}
    for line_id, quantity in lines:
        if line_id not in known:
            return Refusal(422, f"line {line_id} is not a line of this order")
        found = open_lines.get(line_id)
        if found is None:
            return Refusal(
                409,
                f"line {line_id} is already being prepared (in a fulfilment order), cancelled "
                "or asked to be cancelled",
            )
        if quantity > found.quantity:
            return Refusal(422, f"line {line_id}: at most {found.quantity} can still be cancelled")
    return None


# events ------------------------------------------------------------------------------------


def _identity(
    kind: EventKind, order_id: str, key: str | None, content: Sequence[object]
) -> tuple[object, ...]:
    if key is not None:
        return (CUSTOMER_SOURCE, kind.value, order_id, "key", key)
    return (CUSTOMER_SOURCE, kind.value, order_id, "content", *content)


def _event(
    timeline: Timeline,
    kind: EventKind,
    identity: tuple[object, ...],
    payload: dict[str, Any],
    now: datetime,
) -> Event | Refusal:
    # never earlier than what the order already holds (the fold orders by occurred_at)
    last = timeline.last_event_at
    at = max(now, last) if last is not None else now
    try:
        return event_from_dict(
            {
                "event_id": natural_event_id(CUSTOMER_SOURCE, kind.value, *identity[2:]),
                "source": CUSTOMER_SOURCE,
                "kind": kind.value,
                "order_id": timeline.order_id,
                "occurred_at": at.isoformat(),
                "received_at": now.isoformat(),
                "payload": payload,
            }
        )
    except ValidationError as error:
        return Refusal(422, describe_validation_error(error))


def action_id(prefix: str, identity: tuple[object, ...]) -> str:
    """``cr_``/``rr_``/``cq_`` and 16 hex of a sha256 over the event id's inputs."""
    return f"{prefix}_{digest(*identity, length=16)}"


def problem_reported(
    timeline: Timeline,
    report: ProblemRequest,
    *,
    attachment: dict[str, Any] | None,
    key: str | None,
    now: datetime,
) -> Event | Refusal:
    refusal = problem_refusal(timeline, report)
    if refusal is not None:
        return refusal
    kind = EventKind.PROBLEM_REPORTED
    earlier = sorted(e.exception_id for e in timeline.exceptions if e.reported_by_customer)
    content = (
        report.problem.value,
        report.text,
        report.subject,
        _lines_key(report.lines),
        (attachment or {}).get("sha256"),
        ",".join(earlier),
    )
    identity = _identity(kind, timeline.order_id, key, content)
    payload: dict[str, Any] = {
        "exception_id": action_id("cr", identity),
        "problem": report.problem.value,
        "text": report.text,
    }
    if report.subject is not None:
        payload["subject"] = report.subject
    if report.lines:
        payload["lines"] = [{"line_id": i, "quantity": q} for i, q in report.lines]
    if attachment is not None:
        payload["attachment"] = attachment
    return _event(timeline, kind, identity, payload, now)


def return_requested(
    timeline: Timeline,
    lines: Sequence[ReturnLineRequest],
    *,
    key: str | None,
    now: datetime,
    window_days: float,
) -> Event | Refusal:
    refusal = return_refusal(timeline, lines, now, window_days)
    if refusal is not None:
        return refusal
    kind = EventKind.RETURN_REQUESTED
    earlier = ",".join(sorted(leg.return_id for leg in timeline.returns))
    content = ("|".join(f"{r.line_id}\x1e{r.quantity}\x1e{r.reason}" for r in lines), earlier)
    identity = _identity(kind, timeline.order_id, key, content)
    payload = {
        "return_id": action_id("rr", identity),
        "lines": [
            {"line_id": line.line_id, "quantity": line.quantity, "reason": line.reason}
            for line in lines
        ],
    }
    return _event(timeline, kind, identity, payload, now)


def cancel_requested(
    timeline: Timeline,
    lines: Sequence[tuple[str, int]],
    reason: str | None,
    *,
    key: str | None,
    now: datetime,
) -> Event | Refusal:
    refusal = cancel_refusal(timeline, lines)
    if refusal is not None:
        return refusal
    kind = EventKind.CANCEL_REQUESTED
    earlier = ",".join(sorted(r.request_id for r in timeline.cancel_requests))
    identity = _identity(kind, timeline.order_id, key, (_lines_key(lines), reason, earlier))
    payload: dict[str, Any] = {
        "request_id": action_id("cq", identity),
        "lines": [{"line_id": i, "quantity": q} for i, q in lines],
    }
    if reason:
        payload["reason"] = reason
    return _event(timeline, kind, identity, payload, now)


def _lines_key(lines: Iterable[tuple[str, int]]) -> str:
    return "|".join(f"{line_id}\x1e{quantity}" for line_id, quantity in lines)
