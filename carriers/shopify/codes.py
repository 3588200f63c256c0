"""Shopify's status vocabularies → ours.

* ``shipment_status`` of a fulfilment and ``status`` of a fulfilment event (the same lower-case
  values as GraphQL's ``FulfillmentEventStatus``) → tracking status and reason;
* ``tracking_company`` → our carrier slug;
* ``financial_status`` of an order → the payment step it states;
* the ``returns/*`` topics → the return step they state.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.events import EventKind
from wismo.vocab import Reason as R
from wismo.vocab import TrackingStatus as S

SHIPMENT_STATUSES: CodeTable = {
    "label_purchased": (S.INFO_RECEIVED, None),
    "label_printed": (S.INFO_RECEIVED, None),
    # "the default value when no other information is available": a label exists, no scan yet
    "confirmed": (S.INFO_RECEIVED, None),
    "carrier_picked_up": (S.IN_TRANSIT, None),
    "in_transit": (S.IN_TRANSIT, None),
    "delayed": (S.EXCEPTION, R.CARRIER_DELAY),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, None),
    "attempted_delivery": (S.ATTEMPT_FAIL, None),
    "ready_for_pickup": (S.AVAILABLE_FOR_PICKUP, None),
    "ready_for_recipient_pickup": (S.AVAILABLE_FOR_PICKUP, None),
    "picked_up": (S.DELIVERED, R.DELIVERED_PICKED_UP),
    "delivered": (S.DELIVERED, None),
    "buyer_action_required": (S.EXCEPTION, None),
    "returning_to_sender": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    "failure": (S.EXCEPTION, None),
}

#: A fulfilment Shopify cancelled: its label no longer travels.
CANCELLED_FULFILMENT: tuple[S, R | None] = (S.EXCEPTION, R.RETAILER_LABEL_CANCELLED)


#: ``financial_status`` → the payment step it states. ``pending`` and ``partially_paid`` state
#: no amount; ``refunded`` / ``partially_refunded`` come with their amounts from the refunds;
#: ``voided`` is an authorization released (usually a cancelled order), not a failed payment.
FINANCIAL_STATUSES: dict[str, EventKind] = {
    "authorized": EventKind.PAYMENT_AUTHORIZED,
    "paid": EventKind.PAYMENT_CAPTURED,
}

#: ``returns/*`` topic → the return step (``returns/request`` is only a request: nothing is
#: authorized until the merchant approves it).
RETURN_TOPICS: dict[str, EventKind] = {
    "returns/approve": EventKind.RETURN_AUTHORIZED,
    "returns/decline": EventKind.RETURN_REJECTED,
    "returns/cancel": EventKind.RETURN_REJECTED,
    "returns/close": EventKind.RETURN_RECEIVED,
}
