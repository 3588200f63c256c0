"""What a customer (or anyone with a tracking number) may see of a timeline: the ``CustomerOrder``
and public ``Shipment`` documents of the OpenAPI description, built from the typed
:class:`~projections.timeline_model.Timeline`. Pure: the same timeline always gives the same
document (the ETag relies on it), and every wording the status page shows — status text,
progress steps, the next step, the exception banner — is decided here, once, for the REST
answer and the websocket frame alike.

Nothing personal leaves here: places are reduced to city and country, raw carrier messages
(which can name whoever signed) are replaced by wording from the status/reason vocabulary, and
e-mail hashes, postcodes, prices and payment details are never copied. The order document (for
the holder of the order's token only) also carries what the customer asked for themselves —
their problem reports, returns with the refund each one brought, cancel requests — and what they
may still ask for (:mod:`projections.customer_actions`).

Values are returned typed (datetimes, dates, enums); :func:`encode` writes them as the stored
timeline does (UTC as ``Z``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from babel.dates import format_date

from projections.customer_actions import cancellable_lines, problem_types, returnable_lines
from projections.exceptions import ARRIVED_OR_GONE, customer_text
from projections.timeline_model import (
    CancelRequestView,
    CheckpointView,
    ExceptionView,
    ReturnView,
    ShipmentView,
    Timeline,
)
from wismo.i18n import N_, SOURCE_LOCALE, babel_locale, translations
from wismo.payloads import Place, is_web_url
from wismo.settings import SelfServiceSettings
from wismo.vocab import (
    CancelStatus,
    ExceptionState,
    ExceptionType,
    OrderStatus,
    ProblemType,
    ReturnStatus,
    Severity,
    TrackingStatus,
)

#: changes whenever the documents below change shape, so an old ETag never validates a new body
FORMAT = "c5"
#: the return window when none is given (the settings' default; the API passes the configured one)
RETURN_WINDOW_DAYS: float = SelfServiceSettings.model_fields["return_window_days"].default

MILESTONES = (
    ("ordered", N_("Ordered")),
    ("shipped", N_("Shipped")),
    ("out_for_delivery", N_("Out for delivery")),
    ("delivered", N_("Delivered")),
)

STATUS_TEXT = {
    "unknown": N_("Update from the carrier"),
    "pending": N_("Waiting for the carrier"),
    "info_received": N_("Label created, waiting for the parcel"),
    "in_transit": N_("On its way"),
    "exception": N_("Delayed"),
    "attempt_fail": N_("Delivery attempted"),
    "out_for_delivery": N_("Out for delivery"),
    "available_for_pickup": N_("Ready for pickup"),
    "delivered": N_("Delivered"),
    "expired": N_("No recent updates"),
    "returning_to_sender": N_("Returning to the sender"),
    "returned_to_sender": N_("Returned to the sender"),
}

ORDER_TEXT = {
    OrderStatus.PLACED: N_("Received"),
    OrderStatus.PROCESSING: N_("Being prepared"),
    OrderStatus.PARTIALLY_SHIPPED: N_("Partly on its way"),
    OrderStatus.SHIPPED: N_("On its way"),
    OrderStatus.IN_TRANSIT: N_("On its way"),
    OrderStatus.OUT_FOR_DELIVERY: N_("Out for delivery"),
    OrderStatus.AVAILABLE_FOR_PICKUP: N_("Ready for pickup"),
    OrderStatus.EXCEPTION: N_("Delayed"),
    OrderStatus.PARTIALLY_DELIVERED: N_("Partly delivered"),
    OrderStatus.DELIVERED: N_("Delivered"),
    OrderStatus.CANCELLED: N_("Cancelled"),
    OrderStatus.RETURNED: N_("Returned"),
    OrderStatus.REFUNDED: N_("Refunded"),
}

RETURN_TEXT = {
    ReturnStatus.REQUESTED: N_("Return requested"),
    ReturnStatus.AUTHORIZED: N_("Return accepted"),
    ReturnStatus.IN_TRANSIT: N_("Return on its way back"),
    ReturnStatus.RECEIVED: N_("Return received"),
    ReturnStatus.REJECTED: N_("Return refused"),
}

PROBLEM_TEXT = {
    ProblemType.NOT_RECEIVED: N_("Marked delivered, but not received"),
    ProblemType.DAMAGED: N_("Damaged"),
    ProblemType.WRONG_ITEM: N_("Wrong item"),
    ProblemType.MISSING_ITEMS: N_("Items missing"),
}

REPORT_TEXT = {
    ExceptionState.OPEN: N_("Received: we will look into it"),
    ExceptionState.ACKNOWLEDGED: N_("We are looking into it"),
    ExceptionState.RESOLVED: N_("Resolved"),
}

CANCEL_TEXT = {
    CancelStatus.REQUESTED: N_("Cancellation requested"),
    CancelStatus.CONFIRMED: N_("Cancelled"),
    CancelStatus.REJECTED: N_("Could not be cancelled"),
}

#: a return's steps; a rejected return stops where it was refused
RETURN_STEPS_OF_A_RETURN = (
    (ReturnStatus.REQUESTED, N_("Requested")),
    (ReturnStatus.AUTHORIZED, N_("Accepted")),
    (ReturnStatus.IN_TRANSIT, N_("On its way back")),
    (ReturnStatus.RECEIVED, N_("Received")),
)

NEXT_STEP = {
    "attempt_fail": N_(
        "The carrier will try again or leave a card telling you where to collect it."
    ),
    "available_for_pickup": N_("Your parcel is waiting for you at the pickup point shown below."),
    "exception": N_(
        "We are on it with the carrier; this page updates as soon as they tell us more."
    ),
    "expired": N_("The carrier has not sent news for a while; we are chasing them."),
    "returning_to_sender": N_(
        "The parcel is on its way back to us; we will contact you about a refund or a new delivery."
    ),
    "returned_to_sender": N_(
        "The parcel came back to us; we will contact you about a refund or a new delivery."
    ),
}

FORWARD_STEPS = (
    ("ordered", N_("Ordered")),
    ("shipped", N_("Shipped")),
    ("in_transit", N_("In transit")),
    ("out_for_delivery", N_("Out for delivery")),
    ("delivered", N_("Delivered")),
)
RETURN_STEPS = (
    ("ordered", N_("Ordered")),
    ("shipped", N_("Shipped")),
    ("returning", N_("Returning to sender")),
    ("returned", N_("Returned")),
)
#: how far a parcel status has come on the forward path (index into FORWARD_STEPS)
_REACHED = {
    "pending": 1,
    "info_received": 1,
    "unknown": 1,
    "in_transit": 2,
    "exception": 2,
    "expired": 2,
    "attempt_fail": 3,
    "out_for_delivery": 3,
    "available_for_pickup": 3,
    "delivered": 4,
}
_PROBLEMS = frozenset({"exception", "attempt_fail", "expired"})
_RETURNING = {"returning_to_sender": 2, "returned_to_sender": 3}

_SEVERITY = {s: rank for rank, s in enumerate(Severity)}
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _(lang: str, text: str) -> str:
    """``text`` (an English msgid of the ``page`` domain) in ``lang``."""
    return translations("page", lang).gettext(text)


def describe(status: str | None, lang: str = SOURCE_LOCALE) -> str:
    return _(lang, STATUS_TEXT.get(status or "unknown", STATUS_TEXT["unknown"]))


def progress(status: str | None, lang: str = SOURCE_LOCALE) -> list[dict[str, Any]]:
    """The steps of a parcel's journey, the one it is at marked ``current`` (and ``problem``
    when it is stuck there, its label then saying why)."""
    status = status or "pending"
    returning = status in _RETURNING
    steps = RETURN_STEPS if returning else FORWARD_STEPS
    reached = _RETURNING[status] if returning else _REACHED.get(status, 1)
    problem = status in _PROBLEMS
    return [
        {
            "step": key,
            "label": _(lang, STEP_PROBLEM)
            % {"step": _(lang, label), "status": describe(status, lang)}
            if index == reached and problem
            else _(lang, label),
            "done": index <= reached,
            "current": index == reached,
            "problem": index == reached and problem,
            "returning": returning and 2 <= index <= reached,
        }
        for index, (key, label) in enumerate(steps)
    ]


def place(value: Place | None) -> dict[str, str] | None:
    if value is None:
        return None
    kept = {k: v for k, v in (("city", value.city), ("country", value.country)) if v}
    return kept or None


def checkpoint(point: CheckpointView, lang: str = SOURCE_LOCALE) -> dict[str, Any]:
    return {
        "at": point.occurred_at,
        "status": point.status,
        "reason": point.reason,
        "description": describe(point.status, lang),
        "location": place(point.location),
    }


def _parcel(
    *,
    tracking_number: str | None,
    carrier: str | None,
    status: TrackingStatus | None,
    reason: str | None,
    shipped_at: datetime | None,
    checkpoints: list[CheckpointView],
    shipment: ShipmentView | None = None,
    lang: str = SOURCE_LOCALE,
) -> dict[str, Any]:
    newest_first = sorted(checkpoints, key=lambda c: c.occurred_at, reverse=True)
    return {
        "tracking_number": tracking_number,
        "carrier": carrier,
        "service": shipment.service if shipment else None,
        # events are checked on the way in; this also keeps out a link stored before that
        "tracking_url": _link(shipment.tracking_url) if shipment else None,
        "proof": _proof(shipment),
        "status": status,
        "reason": reason,
        "description": describe(status, lang),
        "progress": progress(status, lang),
        "next_step": _(lang, NEXT_STEP[status]) if status in NEXT_STEP else None,
        "estimated_delivery": shipment.estimated_delivery if shipment else None,
        "window_start": shipment.estimated_window_start if shipment else None,
        "window_end": shipment.estimated_window_end if shipment else None,
        "wismo_estimate": wismo_estimate(shipment) if shipment else None,
        "shipped_at": shipped_at,
        "delivered_at": shipment.delivered_at if shipment else None,
        "destination": place(shipment.destination) if shipment else None,
        "checkpoints": [checkpoint(c, lang) for c in newest_first],
    }


def _proof(parcel: ShipmentView | None) -> dict[str, Any] | None:
    """Who signed for a delivered parcel and the carrier's proof-of-delivery link, if sent."""
    if parcel is None:
        return None
    url = _link(parcel.proof_of_delivery_url)
    return {"signed_by": parcel.signed_by, "url": url} if parcel.signed_by or url else None


def shipment(
    parcel: ShipmentView, tracking_number: str | None = None, lang: str = SOURCE_LOCALE
) -> dict[str, Any]:
    """One parcel as the ``Shipment`` schema has it (``tracking_number``: one of its packages)."""
    return _parcel(
        tracking_number=tracking_number or parcel.tracking_number,
        carrier=parcel.carrier,
        status=parcel.status,
        reason=parcel.reason,
        shipped_at=parcel.shipped_at,
        checkpoints=parcel.checkpoints,
        shipment=parcel,
        lang=lang,
    )


def return_leg(leg: ReturnView, lang: str = SOURCE_LOCALE) -> dict[str, Any]:
    """A return parcel as the public ``Shipment`` schema has it."""
    return _parcel(
        tracking_number=leg.tracking_number,
        carrier=leg.carrier,
        status=leg.carrier_status,
        reason=leg.reason,
        shipped_at=leg.shipped_at,
        checkpoints=leg.checkpoints,
        lang=lang,
    )


#: said beside an estimate of a parcel that is trending late (never more than the data supports)
MAY_BE_LATE = N_("It may arrive later than promised.")
#: a step where the parcel is stuck, and why
STEP_PROBLEM = N_("%(step)s: %(status)s")
#: a short day in each language's own order ("Tue 3 Mar", "Di. 3. März", "mar. 3 mars")
_DAY_FORMAT = {"de": "EEE d. MMM"}
ESTIMATE = N_("Our estimate: %(day)s")
ESTIMATE_BETWEEN = N_("Our estimate: %(day)s (likely between %(earliest)s and %(latest)s)")


def _day(day: date, lang: str = SOURCE_LOCALE) -> str:
    """A day as the page words it ("Tue 3 Mar", "Di., 3. März")."""
    return format_date(day, _DAY_FORMAT.get(lang, "EEE d MMM"), locale=babel_locale(lang))


def wismo_estimate(
    parcel: ShipmentView, *, may_be_late: bool = False, lang: str = SOURCE_LOCALE
) -> dict[str, Any] | None:
    """wismo's own estimate of a parcel, beside the carrier's: the likeliest day, the days it
    likely falls between, and cautious words for them. ``None`` when there is nothing worth
    showing: no estimate, the parcel arrived or turned back, a scan newer than the estimate (the
    next one is on its way), or a parcel that waited longer than nearly every comparable one
    (the history says little about it then)."""
    found = parcel.prediction
    if found is None or parcel.delivered_at is not None or parcel.status in ARRIVED_OR_GONE:
        return None
    anchor = parcel.last_checkpoint_at or parcel.shipped_at
    if (anchor is not None and found.as_of < anchor) or found.beyond_history:
        return None
    day = found.predicted_delivery
    earliest = min(found.window_start.astimezone(UTC).date(), day)
    latest = max((found.window_end - timedelta(microseconds=1)).astimezone(UTC).date(), day)
    if earliest != latest:
        text = _(lang, ESTIMATE_BETWEEN) % {
            "day": _day(day, lang),
            "earliest": _day(earliest, lang),
            "latest": _day(latest, lang),
        }
    else:
        text = _(lang, ESTIMATE) % {"day": _day(day, lang)}
    if may_be_late:
        text += f". {_(lang, MAY_BE_LATE)}"
    return {
        "date": day,
        "earliest": earliest,
        "latest": latest,
        "may_be_late": may_be_late,
        "text": text,
    }


def trending_late(timeline: Timeline, parcel: ShipmentView) -> bool:
    """Whether a ``trending_late`` exception about the parcel is open (or acknowledged)."""
    return any(
        e.type is ExceptionType.TRENDING_LATE
        and e.subject == parcel.shipment_id
        and e.state is not ExceptionState.RESOLVED
        for e in timeline.exceptions
    )


def shipment_items(timeline: Timeline, parcel: ShipmentView) -> list[dict[str, Any]]:
    """What is in one parcel: its lines (or its fulfilment order's), named from the order."""
    quantities = parcel.lines
    if not quantities:
        for fulfilment in timeline.fulfilment_orders:
            if fulfilment.fulfilment_order_id == parcel.fulfilment_order_id:
                quantities = fulfilment.lines
    lines = {line.line_id: line for line in timeline.lines}
    items = []
    for line_id, quantity in quantities.items():
        line = lines.get(line_id)
        items.append({"name": (line.name or line.sku) if line else None, "quantity": quantity})
    return items


def _first(values: Iterable[datetime | None]) -> datetime | None:
    return min((v for v in values if v), default=None)


def milestones(timeline: Timeline, lang: str = SOURCE_LOCALE) -> list[dict[str, Any]]:
    parcels = timeline.shipments
    delivered = [s.delivered_at for s in parcels]
    reached: dict[str, datetime | None] = {
        "ordered": timeline.placed_at or timeline.first_event_at,
        "shipped": _first(s.shipped_at or s.first_scan_at for s in parcels),
        "out_for_delivery": _first(s.out_for_delivery_at for s in parcels),
        "delivered": max(d for d in delivered if d) if parcels and all(delivered) else None,
    }
    if reached["delivered"] and not reached["out_for_delivery"]:
        reached["out_for_delivery"] = reached["delivered"]
    return [
        {
            "name": name,
            "label": _(lang, label),
            "done": reached[name] is not None,
            "at": reached[name],
        }
        for name, label in MILESTONES
    ]


def delivery_window(timeline: Timeline) -> dict[str, Any]:
    """The promise, and the carrier's estimate for the last parcel still on its way."""
    pending = [s for s in timeline.shipments if not s.delivered_at]
    latest = max(pending, key=_estimate_order, default=None)
    return {
        "promised": timeline.promised_delivery_date,
        "estimated": latest.estimated_delivery if latest else None,
        "window_start": latest.estimated_window_start if latest else None,
        "window_end": latest.estimated_window_end if latest else None,
    }


def _estimate_order(parcel: ShipmentView) -> tuple[bool, date]:
    return parcel.estimated_delivery is not None, parcel.estimated_delivery or date.min


def banner(timeline: Timeline, lang: str = SOURCE_LOCALE) -> str | None:
    """The customer wording of the most severe exception still open (or acknowledged), the
    customer's own reports aside.

    ``trending_late`` is no problem yet: it is said beside wismo's estimate of the parcel
    (:func:`wismo_estimate`), not in the banner."""
    live = [
        e
        for e in timeline.exceptions
        if e.state != ExceptionState.RESOLVED
        and e.type is not None
        and e.type is not ExceptionType.TRENDING_LATE
        and not e.reported_by_customer  # the customer's own reports are listed as theirs
    ]
    if not live:
        return None
    return exception_text(max(live, key=_urgency), lang)


def exception_text(exception: ExceptionView, lang: str = SOURCE_LOCALE) -> str | None:
    """The customer wording of one exception (the banner's, and the delay message's): the
    English reason text is the msgid, in the ``page`` domain."""
    if exception.type is None:
        return None
    return _(lang, customer_text(exception.type, exception.reason))


def _urgency(exception: ExceptionView) -> tuple[int, bool, datetime]:
    rank = _SEVERITY.get(exception.severity, -1) if exception.severity else -1
    opened = exception.opened_at
    return rank, opened is not None, opened or _EARLIEST


def status_text(timeline: Timeline, lang: str = SOURCE_LOCALE) -> str:
    if timeline.cancelled:
        return _(lang, ORDER_TEXT[OrderStatus.CANCELLED])
    return _(lang, ORDER_TEXT.get(timeline.status, ORDER_TEXT[OrderStatus.PLACED]))


def _named(timeline: Timeline, quantities: dict[str, int]) -> list[dict[str, Any]]:
    names = {line.line_id: line.name or line.sku for line in timeline.lines}
    return [
        {"line_id": line_id, "name": names.get(line_id), "quantity": quantity}
        for line_id, quantity in quantities.items()
    ]


def problem_reports(timeline: Timeline, lang: str = SOURCE_LOCALE) -> list[dict[str, Any]]:
    """The customer's own problem reports, each with its state in their words."""
    return [
        {
            "exception_id": e.exception_id,
            "problem": e.problem,
            "problem_text": _(lang, PROBLEM_TEXT[e.problem]) if e.problem else None,
            "state": e.state,
            "state_text": _(lang, REPORT_TEXT[e.state]),
            "reported_at": e.opened_at,
            "resolved_at": e.resolved_at,
            "text": e.message,
            "subject": e.subject,
            "lines": _named(timeline, e.reported_lines),
            "photo": _photo(e.attachment),
        }
        for e in timeline.exceptions
        if e.reported_by_customer
    ]


def _photo(attachment: dict[str, str | int] | None) -> dict[str, Any] | None:
    if not attachment:
        return None
    return {"ref": attachment.get("ref"), "content_type": attachment.get("content_type")}


def return_progress(leg: ReturnView, lang: str = SOURCE_LOCALE) -> list[dict[str, Any]]:
    """The steps of one return; a refused return's last step reached says so."""
    rejected = leg.status is ReturnStatus.REJECTED
    reached_at = {
        ReturnStatus.REQUESTED: leg.requested_at,
        ReturnStatus.AUTHORIZED: leg.authorized_at,
        ReturnStatus.IN_TRANSIT: leg.shipped_at,
        ReturnStatus.RECEIVED: leg.received_at,
    }
    steps = [s for s in RETURN_STEPS_OF_A_RETURN if s[0] is not ReturnStatus.REQUESTED]
    if leg.requested_at is not None or leg.status is ReturnStatus.REQUESTED:
        steps = list(RETURN_STEPS_OF_A_RETURN)
    keys = [status for status, _ in steps]
    current = leg.status if leg.status in keys else None
    if rejected:
        done_keys = [k for k in keys if reached_at[k] is not None]
        current = done_keys[-1] if done_keys else keys[0]
    index = keys.index(current) if current is not None else 0
    return [
        {
            "step": status.value,
            "label": _(lang, STEP_PROBLEM)
            % {"step": _(lang, label), "status": _(lang, RETURN_TEXT[ReturnStatus.REJECTED])}
            if rejected and position == index
            else _(lang, label),
            "done": position <= index,
            "current": position == index,
            "problem": rejected and position == index,
            "at": reached_at[status],
        }
        for position, (status, label) in enumerate(steps)
    ]


def customer_return(
    timeline: Timeline, leg: ReturnView, lang: str = SOURCE_LOCALE
) -> dict[str, Any]:
    """One return: its state and steps, lines with reasons, its own scans, and the refund."""
    refunds = [r for r in timeline.refunds if r.return_id == leg.return_id]
    amounts = [r.amount for r in refunds if r.amount is not None]
    newest_first = sorted(leg.checkpoints, key=lambda c: c.occurred_at, reverse=True)
    return {
        "return_id": leg.return_id,
        "status": leg.status,
        "status_text": _(lang, RETURN_TEXT[leg.status]),
        "progress": return_progress(leg, lang),
        "requested_at": leg.requested_at,
        "lines": [
            {**line, "reason": leg.line_reasons.get(line["line_id"])}
            for line in _named(timeline, leg.lines)
        ],
        "carrier": leg.carrier,
        "tracking_number": leg.tracking_number,
        "checkpoints": [checkpoint(c, lang) for c in newest_first],
        "refund": {
            "amount": str(sum(amounts)) if amounts else None,
            "currency": next((r.currency for r in refunds if r.currency), None),
            "issued_at": min(r.issued_at for r in refunds),
        }
        if refunds
        else None,
    }


def cancel_request(
    timeline: Timeline, request: CancelRequestView, lang: str = SOURCE_LOCALE
) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "status": request.status,
        "status_text": _(lang, CANCEL_TEXT[request.status]),
        "lines": _named(timeline, request.lines),
        "reason": request.reason,
        "requested_at": request.requested_at,
        "decided_at": request.decided_at,
        "note": request.note,
    }


def allowed_actions(
    timeline: Timeline, return_window_days: float, lang: str = SOURCE_LOCALE
) -> dict[str, Any]:
    """What the customer may ask for now: returnable lines (each with its most and the end of
    its window, which the page compares with its clock), cancellable lines, problem types."""
    names = {line.line_id: line.name or line.sku for line in timeline.lines}
    return {
        "returnable": [
            {
                "line_id": r.line_id,
                "name": names.get(r.line_id),
                "quantity": r.quantity,
                "delivered_at": r.delivered_at,
                "returnable_until": r.until,
            }
            for r in returnable_lines(timeline, return_window_days)
        ],
        "cancellable": [
            {"line_id": c.line_id, "name": names.get(c.line_id), "quantity": c.quantity}
            for c in cancellable_lines(timeline)
        ],
        "problem_types": [
            {"problem": p, "text": _(lang, PROBLEM_TEXT[p])} for p in problem_types(timeline)
        ],
        "return_window_days": return_window_days,
    }


def customer_order(
    timeline: Timeline,
    *,
    return_window_days: float = RETURN_WINDOW_DAYS,
    lang: str = SOURCE_LOCALE,
    brand: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``CustomerOrder`` document: everything the order's status page shows, worded in
    ``lang``; ``brand`` is the order's public brand block (``wismo.brands.public_brand``)."""
    masked = [g.address_masked for g in timeline.delivery_groups if g.address_masked]
    return {
        "lang": lang,
        "brand": brand,
        "address_masked": masked[0] if masked else None,
        "order_id": timeline.order_id,
        "order_number": timeline.order_number,
        "status": timeline.status,
        "status_text": status_text(timeline, lang),
        "placed_at": timeline.placed_at,
        "cancelled": timeline.cancelled,
        "milestones": milestones(timeline, lang),
        "delivery": delivery_window(timeline),
        "banner": banner(timeline, lang),
        "items": [
            {"name": line.name or line.sku, "quantity": line.quantity} for line in timeline.lines
        ],
        "shipments": [
            {
                **shipment(s, lang=lang),
                "items": shipment_items(timeline, s),
                "wismo_estimate": wismo_estimate(
                    s, may_be_late=trending_late(timeline, s), lang=lang
                ),
            }
            for s in timeline.shipments
        ],
        "returns": [customer_return(timeline, r, lang) for r in timeline.returns],
        "problems": problem_reports(timeline, lang),
        "cancel_requests": [cancel_request(timeline, c, lang) for c in timeline.cancel_requests],
        "actions": allowed_actions(timeline, return_window_days, lang),
        "version": timeline.version,
        "updated_at": timeline.last_event_at,
    }


def public_parcel(
    timeline: Timeline, tracking_number: str, lang: str = SOURCE_LOCALE
) -> dict[str, Any] | None:
    """The public ``Shipment`` document of one parcel: no order details at all."""
    for parcel in timeline.shipments:
        numbers = {parcel.tracking_number} | {p.tracking_number for p in parcel.packages}
        if tracking_number in numbers:
            # who signed is for the order's customer, not for anyone holding the number
            return shipment(parcel, tracking_number, lang) | {"proof": None}
    for leg in timeline.returns:
        if leg.tracking_number == tracking_number:
            return return_leg(leg, lang)
    return None


def encode(document: Any) -> bytes:
    """JSON as the stored timeline writes it (datetimes in UTC with ``Z``)."""
    return orjson.dumps(document, option=orjson.OPT_UTC_Z)


def _link(url: str | None) -> str | None:
    return url if url is not None and is_web_url(url) else None
