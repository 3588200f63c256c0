"""Salesforce Order Management's status picklists → our events and tracking statuses.

Picklist values are org-configurable; the tables hold the defaults Salesforce ships. A value not
listed states nothing the timeline tracks (it is not an error: orgs add their own intermediate
statuses), except for fulfilment orders, where the restricted ``StatusCategory`` decides.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.events import EventKind
from wismo.vocab import Reason as R
from wismo.vocab import TrackingStatus as S

#: ``Shipment.Status`` values that describe where the parcel is. ``Shipped`` is not one: handing
#: over is the shipment itself (``fulfilment.shipped``), not a carrier scan.
SHIPMENT_STATUSES: CodeTable = {
    "In Transit": (S.IN_TRANSIT, None),
    "Out for Delivery": (S.OUT_FOR_DELIVERY, None),
    "Delivered": (S.DELIVERED, None),
    "Returned": (S.RETURNED_TO_SENDER, None),
}
#: ``ActualDeliveryDate`` set on a shipment: it was delivered then.
DELIVERED: tuple[S, R | None] = (S.DELIVERED, None)


#: ``OrderSummary.Status`` values that cancel the whole order.
CANCELLED_ORDER_STATUSES = frozenset({"Canceled", "Cancelled"})

#: ``FulfillmentOrder.Status`` → the fulfilment step it states (``None``: no step of its own;
#: ``Fulfilled`` is stated by the Shipment records that fulfil it).
FULFILMENT_STATUSES: dict[str, EventKind | None] = {
    "Draft": None,
    "Assigned": None,
    "Allocated": EventKind.FULFILMENT_ALLOCATED,
    "Pickpack": EventKind.FULFILMENT_ALLOCATED,
    "Printed": EventKind.FULFILMENT_ALLOCATED,
    "Pick Complete": EventKind.FULFILMENT_PICKED,
    "Pack Complete": EventKind.FULFILMENT_PACKED,
    "Fulfilled": None,
    "Rejected": EventKind.FULFILMENT_REJECTED,
    "Canceled": EventKind.FULFILMENT_REJECTED,
    "Cancelled": EventKind.FULFILMENT_REJECTED,
}
#: ``StatusCategory`` (a restricted picklist) for org-defined statuses not listed above.
FULFILMENT_CATEGORIES: dict[str, EventKind | None] = {
    "Draft": None,
    "Activated": None,
    "Fulfilling": EventKind.FULFILMENT_ALLOCATED,
    "Closed": None,
    "Rejected": EventKind.FULFILMENT_REJECTED,
    "Canceled": EventKind.FULFILMENT_REJECTED,
    "Cancelled": EventKind.FULFILMENT_REJECTED,
}

#: ``ReturnOrder.Status`` → the return step it states (``Draft`` and ``Submitted`` are requests).
RETURN_STATUSES: dict[str, EventKind] = {
    "Approved": EventKind.RETURN_AUTHORIZED,
    "Closed": EventKind.RETURN_RECEIVED,
    "Canceled": EventKind.RETURN_REJECTED,
    "Cancelled": EventKind.RETURN_REJECTED,
    "Rejected": EventKind.RETURN_REJECTED,
}

#: ``ProcessExceptionEvent.Category`` values that report a failed payment operation (the event
#: exists for payment capture, apply and refund errors; a missing category is one of those).
PAYMENT_EXCEPTION_CATEGORIES = frozenset({"Payment", "Invoicing", ""})
