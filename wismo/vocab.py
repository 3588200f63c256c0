"""Status and reason vocabularies shared by every source and projection.

Tracking is described on two levels, like the best aggregators do:

* :class:`TrackingStatus` — a small set ordered by progress (:data:`STATUS_RANK`);
* :class:`Reason` — *why* a shipment is in that state, attributed to who is to blame
  (:class:`Owner`), e.g. ``consignee_refused`` or ``customs_hold``.

Order-level status (:class:`OrderStatus`) is derived from the shipments, returns and payments of
an order by the timeline fold.
"""

from __future__ import annotations

from enum import StrEnum


class TrackingStatus(StrEnum):
    """Where a parcel is; ``unknown`` marks a carrier code we could not map (kept, not dropped)."""

    UNKNOWN = "unknown"
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    EXCEPTION = "exception"
    ATTEMPT_FAIL = "attempt_fail"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXPIRED = "expired"
    RETURNING_TO_SENDER = "returning_to_sender"
    RETURNED_TO_SENDER = "returned_to_sender"


#: Progress rank: higher means further along. Return legs rank above delivery because a return
#: can follow a delivery (refused at the door, returned by the customer) but never precede it.
STATUS_RANK: dict[TrackingStatus, int] = {
    TrackingStatus.UNKNOWN: -1,
    TrackingStatus.PENDING: 0,
    TrackingStatus.INFO_RECEIVED: 10,
    TrackingStatus.IN_TRANSIT: 20,
    TrackingStatus.EXCEPTION: 25,
    TrackingStatus.ATTEMPT_FAIL: 30,
    TrackingStatus.OUT_FOR_DELIVERY: 40,
    TrackingStatus.AVAILABLE_FOR_PICKUP: 50,
    TrackingStatus.DELIVERED: 100,
    TrackingStatus.EXPIRED: 105,
    TrackingStatus.RETURNING_TO_SENDER: 110,
    TrackingStatus.RETURNED_TO_SENDER: 120,
}

#: States that only a return leg may follow.
TERMINAL_STATUSES = frozenset(
    {TrackingStatus.DELIVERED, TrackingStatus.EXPIRED, TrackingStatus.RETURNED_TO_SENDER}
)
#: Statuses that say "the carrier has not moved the parcel yet".
PRE_TRANSIT_STATUSES = frozenset({TrackingStatus.PENDING, TrackingStatus.INFO_RECEIVED})
#: Statuses that mean something went wrong and someone should look.
TROUBLE_STATUSES = frozenset(
    {
        TrackingStatus.EXCEPTION,
        TrackingStatus.ATTEMPT_FAIL,
        TrackingStatus.RETURNING_TO_SENDER,
        TrackingStatus.RETURNED_TO_SENDER,
        TrackingStatus.EXPIRED,
    }
)
RETURN_STATUSES = frozenset({TrackingStatus.RETURNING_TO_SENDER, TrackingStatus.RETURNED_TO_SENDER})


def status_may_follow(current: TrackingStatus | None, new: TrackingStatus) -> bool:
    """Whether a checkpoint with status ``new`` that sorts after ``current`` replaces it.

    This is the no-regression rule: terminal states only give way to a return leg, a return leg
    only to its own completion, and a late "label created" never undoes real movement.
    """
    if new is TrackingStatus.UNKNOWN:
        return False
    if current is None or current is TrackingStatus.UNKNOWN:
        return True
    if current in TERMINAL_STATUSES or current in RETURN_STATUSES:
        return STATUS_RANK[new] > STATUS_RANK[current]
    return not (new in PRE_TRANSIT_STATUSES and current not in PRE_TRANSIT_STATUSES)


class Owner(StrEnum):
    """Who is responsible for resolving a reason or an exception."""

    CARRIER = "carrier"
    CONSIGNEE = "consignee"
    CUSTOMS = "customs"
    WEATHER = "weather"
    RETAILER = "retailer"
    WAREHOUSE = "warehouse"
    PAYMENT = "payment"
    EXTERNAL = "external"
    NONE = "none"


class Reason(StrEnum):
    """Why a shipment is in its status; the prefix names who is to blame (see :func:`owner_of`)."""

    # carrier
    CARRIER_DELAY = "carrier_delay"
    CARRIER_MISSORTED = "carrier_missorted"
    CARRIER_DAMAGED = "carrier_damaged"
    CARRIER_LOST = "carrier_lost"
    CARRIER_CAPACITY = "carrier_capacity"
    CARRIER_VEHICLE_ISSUE = "carrier_vehicle_issue"
    CARRIER_HELD_AT_FACILITY = "carrier_held_at_facility"
    CARRIER_LABEL_UNREADABLE = "carrier_label_unreadable"
    CARRIER_SECURITY_HOLD = "carrier_security_hold"
    CARRIER_RETURN_TO_SENDER = "carrier_return_to_sender"
    # consignee (the customer receiving the parcel)
    CONSIGNEE_NOT_AVAILABLE = "consignee_not_available"
    CONSIGNEE_REFUSED = "consignee_refused"
    CONSIGNEE_MOVED = "consignee_moved"
    CONSIGNEE_ADDRESS_INCORRECT = "consignee_address_incorrect"
    CONSIGNEE_ADDRESS_INCOMPLETE = "consignee_address_incomplete"
    CONSIGNEE_BUSINESS_CLOSED = "consignee_business_closed"
    CONSIGNEE_NO_ACCESS = "consignee_no_access"
    CONSIGNEE_NO_SAFE_PLACE = "consignee_no_safe_place"
    CONSIGNEE_REQUESTED_HOLD = "consignee_requested_hold"
    CONSIGNEE_RESCHEDULED = "consignee_rescheduled"
    CONSIGNEE_PAYMENT_REQUIRED = "consignee_payment_required"
    CONSIGNEE_NOT_COLLECTED = "consignee_not_collected"
    # customs
    CUSTOMS_HOLD = "customs_hold"
    CUSTOMS_DOCUMENTS_REQUIRED = "customs_documents_required"
    CUSTOMS_DUTIES_DUE = "customs_duties_due"
    CUSTOMS_INSPECTION = "customs_inspection"
    CUSTOMS_PROHIBITED = "customs_prohibited"
    # weather and other force majeure
    WEATHER_DELAY = "weather_delay"
    WEATHER_NATURAL_DISASTER = "weather_natural_disaster"
    EXTERNAL_CIVIL_UNREST = "external_civil_unrest"
    EXTERNAL_HOLIDAY = "external_holiday"
    # retailer / shipper
    RETAILER_NOT_TENDERED = "retailer_not_tendered"
    RETAILER_LABEL_CANCELLED = "retailer_label_cancelled"
    RETAILER_PACKAGING = "retailer_packaging"
    RETAILER_RETURN_REQUESTED = "retailer_return_requested"
    RETAILER_DANGEROUS_GOODS = "retailer_dangerous_goods"
    # delivery outcomes (who received it)
    DELIVERED_TO_RECIPIENT = "delivered_to_recipient"
    DELIVERED_TO_NEIGHBOUR = "delivered_to_neighbour"
    DELIVERED_TO_SAFE_PLACE = "delivered_to_safe_place"
    DELIVERED_TO_MAILROOM = "delivered_to_mailroom"
    DELIVERED_PICKED_UP = "delivered_picked_up"
    # the code could not be mapped: the raw code and message say what happened
    UNKNOWN = "unknown"


_OWNER_BY_PREFIX: dict[str, Owner] = {
    "carrier": Owner.CARRIER,
    "consignee": Owner.CONSIGNEE,
    "customs": Owner.CUSTOMS,
    "weather": Owner.WEATHER,
    "external": Owner.EXTERNAL,
    "retailer": Owner.RETAILER,
}


def owner_of(reason: Reason) -> Owner:
    """The party a reason is attributed to (its prefix)."""
    return _OWNER_BY_PREFIX.get(reason.value.split("_", 1)[0], Owner.NONE)


class OrderStatus(StrEnum):
    """The derived, order-level status shown to customers and agents."""

    PLACED = "placed"
    PROCESSING = "processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    REFUNDED = "refunded"


class PaymentStatus(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    REFUNDED = "refunded"
    SETTLED = "settled"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    """The customer asked for it (on /track); the OMS authorises or rejects it."""
    AUTHORIZED = "authorized"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    REJECTED = "rejected"


RETURN_RANK: dict[ReturnStatus, int] = {
    ReturnStatus.REQUESTED: 0,
    ReturnStatus.AUTHORIZED: 1,
    ReturnStatus.IN_TRANSIT: 2,
    ReturnStatus.RECEIVED: 3,
    ReturnStatus.REJECTED: 4,
}


class CancelStatus(StrEnum):
    """A customer's request to cancel lines: asked, then confirmed or rejected by the OMS."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


CANCEL_RANK: dict[CancelStatus, int] = {
    CancelStatus.REQUESTED: 0,
    CancelStatus.CONFIRMED: 1,
    CancelStatus.REJECTED: 1,
}


class ProblemType(StrEnum):
    """What a customer reports about an order on /track."""

    NOT_RECEIVED = "not_received"
    """Marked delivered, but not received."""
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    MISSING_ITEMS = "missing_items"


class FulfilmentStatus(StrEnum):
    CREATED = "created"
    ALLOCATED = "allocated"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    REJECTED = "rejected"
    BACKORDERED = "backordered"
    CANCELLED = "cancelled"


FULFILMENT_RANK: dict[FulfilmentStatus, int] = {
    FulfilmentStatus.CREATED: 0,
    FulfilmentStatus.BACKORDERED: 1,
    FulfilmentStatus.ALLOCATED: 2,
    FulfilmentStatus.PICKED: 3,
    FulfilmentStatus.PACKED: 4,
    FulfilmentStatus.SHIPPED: 5,
    FulfilmentStatus.REJECTED: 6,
    FulfilmentStatus.CANCELLED: 7,
}


class ExceptionState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


EXCEPTION_STATE_RANK: dict[ExceptionState, int] = {
    ExceptionState.OPEN: 0,
    ExceptionState.ACKNOWLEDGED: 1,
    ExceptionState.RESOLVED: 2,
}


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Channel(StrEnum):
    B2C = "b2c"
    B2B = "b2b"


class ExceptionType(StrEnum):
    """The kinds of delivery exception the detector opens (one open per subject and type)."""

    CARRIER_REPORTED = "carrier_reported"
    STALLED = "stalled"
    LATE_VS_PROMISE = "late_vs_promise"
    NOT_SHIPPED_ON_TIME = "not_shipped_on_time"
    LABEL_NOT_SCANNED = "label_not_scanned"
    DELIVERY_ATTEMPT_FAILED = "delivery_attempt_failed"
    RETURN_TO_SENDER = "return_to_sender"
    LOST_OR_DAMAGED = "lost_or_damaged"
    CUSTOMS_HOLD = "customs_hold"
    PAYMENT_CAPTURE_FAILED = "payment_capture_failed"
    REFUND_OVERDUE = "refund_overdue"
    TRENDING_LATE = "trending_late"
    CUSTOMER_REPORTED = "customer_reported"
    """A customer reported a problem (``problem.reported``); agents only, never the detector."""
