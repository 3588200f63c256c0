"""The customer journey of an order, read from its timeline: which milestones it has reached.

Each :class:`Fact` is one milestone about one subject — a parcel (``shipped:S1``), an exception
(``delayed:<exception id>``), a return, a refund or the whole order (``all_delivered``) — with
its journey ``rank``, when it happened and what a message about it says (``context``: JSON-able,
no secret, the same wording as the status page from :mod:`projections.customer_order`).

The planner (:mod:`projections.notify.plan`) decides who hears about which fact and when; here
is only what the timeline says. ``arriving_soon`` is the one fact about the future: it is due at
midnight, recipient-local, of the day before the parcel's expected delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from projections.customer_order import (
    RETURN_TEXT,
    describe,
    exception_text,
    shipment_items,
    status_text,
)
from projections.notify.model import Milestone
from projections.notify.quiet_hours import zone_of
from projections.timeline_model import ExceptionView, ShipmentView, Timeline
from wismo.payloads import is_web_url
from wismo.vocab import (
    RETURN_STATUSES,
    ExceptionState,
    ExceptionType,
    OrderStatus,
    ReturnStatus,
    TrackingStatus,
)

#: journey order; 0: outside the parcel journey (returns, refunds), never overtaken
RANK: dict[Milestone, int] = {
    Milestone.SHIPPED: 1,
    Milestone.DELAYED: 2,
    Milestone.ARRIVING_SOON: 3,
    Milestone.OUT_FOR_DELIVERY: 4,
    Milestone.DELIVERED: 5,
    Milestone.ALL_DELIVERED: 6,
    Milestone.RETURN_RECEIVED: 0,
    Milestone.REFUND_ISSUED: 0,
}

#: exception types a customer hears about (the rest are the retailer's own business)
CUSTOMER_VISIBLE = frozenset(
    {
        ExceptionType.CARRIER_REPORTED,
        ExceptionType.STALLED,
        ExceptionType.LATE_VS_PROMISE,
        ExceptionType.DELIVERY_ATTEMPT_FAILED,
        ExceptionType.RETURN_TO_SENDER,
    }
)
#: with ``notify.warn_trending_late``, customers also hear that a parcel may be late
WARNED_TRENDING = CUSTOMER_VISIBLE | {ExceptionType.TRENDING_LATE}

#: parcel statuses after which no "arriving soon" makes sense
_NOT_COMING = RETURN_STATUSES | {TrackingStatus.EXPIRED, TrackingStatus.DELIVERED}
#: order statuses of an order whose every parcel arrived (returns and refunds come after)
_COMPLETE = frozenset({OrderStatus.DELIVERED, OrderStatus.RETURNED, OrderStatus.REFUNDED})


@dataclass(frozen=True, slots=True)
class Fact:
    """One reached milestone. ``key`` is unique within the order (the idempotency key's part)."""

    key: str
    milestone: Milestone
    subject: str
    rank: int
    occurred_at: datetime
    context: dict[str, Any]
    shipment_id: str | None = None  # the parcel it concerns, for overtaking
    due: datetime | None = None  # not before (``arriving_soon``)


def fact_key(milestone: Milestone, subject: str | None = None) -> str:
    return f"{milestone.value}:{subject}" if subject else milestone.value


def expected_delivery(parcel: ShipmentView) -> date | None:
    """The date a parcel is expected: the carrier's estimate, else the promise."""
    return parcel.estimated_delivery or parcel.promised_delivery_date


def arriving_soon_due(edd: date, time_zone: str | None) -> datetime:
    """Midnight, in the recipient's zone, of the day before ``edd`` (an aware datetime)."""
    return datetime.combine(edd - timedelta(days=1), time(), tzinfo=zone_of(time_zone))


def order_complete(timeline: Timeline) -> bool:
    """Whether every parcel of the order arrived and nothing is left to ship."""
    parcels = timeline.shipments
    return (
        bool(parcels)
        and all(p.delivered_at is not None for p in parcels)
        and timeline.status in _COMPLETE
    )


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _base(timeline: Timeline, milestone: Milestone) -> dict[str, Any]:
    return {
        "order_id": timeline.order_id,
        "order_number": timeline.order_number,
        "milestone": milestone.value,
        "status_text": status_text(timeline),
        "parcels": len(timeline.shipments),
    }


def _parcel(parcel: ShipmentView) -> dict[str, Any]:
    url = parcel.tracking_url
    return {
        "shipment_id": parcel.shipment_id,
        "carrier": parcel.carrier,
        "tracking_number": parcel.tracking_number,
        "tracking_url": url if url is not None and is_web_url(url) else None,
        "status_text": describe(parcel.status),
        "estimated_delivery": _iso(expected_delivery(parcel)),
        "window_start": _iso(parcel.estimated_window_start),
        "window_end": _iso(parcel.estimated_window_end),
        "delivered_at": _iso(parcel.delivered_at),
    }


def _parcel_fact(
    timeline: Timeline,
    parcel: ShipmentView,
    milestone: Milestone,
    at: datetime,
    due: datetime | None = None,
) -> Fact:
    context = _base(timeline, milestone) | {
        "shipment_id": parcel.shipment_id,
        "parcel": _parcel(parcel),
        "parcel_number": timeline.shipments.index(parcel) + 1,
        "items": shipment_items(timeline, parcel),
    }
    return Fact(
        fact_key(milestone, parcel.shipment_id),
        milestone,
        parcel.shipment_id,
        RANK[milestone],
        at,
        context,
        parcel.shipment_id,
        due,
    )


def _on_its_way(parcel: ShipmentView) -> bool:
    """Still heading for the customer, not yet at the door (nor going back, nor lost)."""
    return (
        parcel.out_for_delivery_at is None
        and parcel.delivered_at is None
        and parcel.status not in _NOT_COMING
    )


def _parcel_facts(timeline: Timeline, parcel: ShipmentView, time_zone: str | None) -> list[Fact]:
    facts = []
    shipped = parcel.shipped_at or parcel.first_scan_at
    if shipped is not None:
        facts.append(_parcel_fact(timeline, parcel, Milestone.SHIPPED, shipped))
        edd = expected_delivery(parcel)
        if edd is not None and _on_its_way(parcel):
            due = arriving_soon_due(edd, time_zone)
            facts.append(_parcel_fact(timeline, parcel, Milestone.ARRIVING_SOON, due, due))
    if parcel.out_for_delivery_at is not None:
        ofd = Milestone.OUT_FOR_DELIVERY
        facts.append(_parcel_fact(timeline, parcel, ofd, parcel.out_for_delivery_at))
    if parcel.delivered_at is not None:
        facts.append(_parcel_fact(timeline, parcel, Milestone.DELIVERED, parcel.delivered_at))
    return facts


def parcel_of(timeline: Timeline, subject: str | None) -> ShipmentView | None:
    """The parcel an exception's subject names: its shipment id, a tracking number of it or of
    one of its packages, or its fulfilment order."""
    if not subject:
        return None
    for parcel in timeline.shipments:
        numbers = {parcel.tracking_number} | {p.tracking_number for p in parcel.packages}
        if subject == parcel.shipment_id or subject in numbers:
            return parcel
    return next((p for p in timeline.shipments if p.fulfilment_order_id == subject), None)


def _delay_fact(
    timeline: Timeline, exception: ExceptionView, visible: frozenset[ExceptionType]
) -> Fact | None:
    if exception.type not in visible or exception.state is ExceptionState.RESOLVED:
        return None
    parcel = parcel_of(timeline, exception.subject)
    context = _base(timeline, Milestone.DELAYED) | {
        "exception_id": exception.exception_id,
        "reason": exception_text(exception),
    }
    if parcel is not None:
        context |= {
            "shipment_id": parcel.shipment_id,
            "parcel": _parcel(parcel),
            "parcel_number": timeline.shipments.index(parcel) + 1,
            "items": shipment_items(timeline, parcel),
        }
    at = exception.opened_at or timeline.last_event_at or timeline.placed_at
    assert at is not None  # an exception is folded from an event, which has a time
    return Fact(
        fact_key(Milestone.DELAYED, exception.exception_id),
        Milestone.DELAYED,
        exception.exception_id,
        RANK[Milestone.DELAYED],
        at,
        context,
        parcel.shipment_id if parcel is not None else None,
    )


def _order_items(timeline: Timeline) -> list[dict[str, Any]]:
    return [{"name": line.name or line.sku, "quantity": line.quantity} for line in timeline.lines]


def _after_sales_facts(timeline: Timeline) -> list[Fact]:
    facts = []
    if len(timeline.shipments) >= 2 and order_complete(timeline):
        last = max(p.delivered_at for p in timeline.shipments if p.delivered_at is not None)
        context = _base(timeline, Milestone.ALL_DELIVERED) | {"items": _order_items(timeline)}
        milestone = Milestone.ALL_DELIVERED
        facts.append(
            Fact(fact_key(milestone), milestone, timeline.order_id, RANK[milestone], last, context)
        )
    lines = {line.line_id: line for line in timeline.lines}
    for leg in timeline.returns:
        if leg.status is ReturnStatus.RECEIVED and leg.received_at is not None:
            milestone = Milestone.RETURN_RECEIVED
            items = [
                {"name": (lines[i].name or lines[i].sku) if i in lines else None, "quantity": q}
                for i, q in leg.lines.items()
            ]
            context = _base(timeline, milestone) | {
                "return_id": leg.return_id,
                "return_text": RETURN_TEXT[leg.status],
                "items": items,
            }
            key = fact_key(milestone, leg.return_id)
            facts.append(Fact(key, milestone, leg.return_id, 0, leg.received_at, context))
    for refund in timeline.refunds:
        milestone = Milestone.REFUND_ISSUED
        context = _base(timeline, milestone) | {
            "refund_id": refund.refund_id,
            "amount": str(refund.amount) if refund.amount is not None else None,
            "currency": refund.currency or timeline.currency,
        }
        key = fact_key(milestone, refund.refund_id)
        facts.append(Fact(key, milestone, refund.refund_id, 0, refund.issued_at, context))
    return facts


def journey(
    timeline: Timeline, time_zone: str | None = None, *, warn_trending_late: bool = False
) -> list[Fact]:
    """Every milestone the order has reached (and its ``arriving_soon`` reminders), in journey
    order per subject. ``time_zone``: the recipient's, for the reminders' local midnight;
    ``warn_trending_late``: a ``trending_late`` exception is a ``delayed`` milestone too."""
    visible = WARNED_TRENDING if warn_trending_late else CUSTOMER_VISIBLE
    facts = [
        fact for parcel in timeline.shipments for fact in _parcel_facts(timeline, parcel, time_zone)
    ]
    facts += [
        f for e in timeline.exceptions if (f := _delay_fact(timeline, e, visible)) is not None
    ]
    facts += _after_sales_facts(timeline)
    return sorted(facts, key=lambda f: (f.rank == 0, f.rank, f.occurred_at, f.key))
