"""USPS scan event codes → (status, reason).

USPS Tracking v3 events carry ``eventCode`` (the Pub 199 Appendix G scan event code, e.g. ``01``
delivered, ``02`` notice left) next to the human ``eventType``. Codes decide; the wording of a
delivery (``Delivered, Front Door/Porch``) refines where it was left, and a delivery to the
original sender is the end of a return.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.vocab import Reason, TrackingStatus

S = TrackingStatus
R = Reason

EVENT_CODES: CodeTable = {
    # pre-transit
    "MA": (S.INFO_RECEIVED, None),  # Manifest acknowledgement
    "GX": (S.INFO_RECEIVED, None),  # Shipping label created, USPS awaiting item
    "TM": (S.IN_TRANSIT, None),  # Truck manifest: shipment acceptance
    "PA": (S.IN_TRANSIT, None),  # Passive acceptance: shipment acceptance
    "03": (S.IN_TRANSIT, None),  # Accepted / picked up by carrier
    # moving through the network
    "07": (S.IN_TRANSIT, None),  # Arrival at unit
    "10": (S.IN_TRANSIT, None),  # Processed
    "19": (S.IN_TRANSIT, None),  # DC eVS arrive
    "41": (S.IN_TRANSIT, None),  # Received at opening unit
    "42": (S.IN_TRANSIT, None),  # USPS handoff to shipping partner
    "80": (S.IN_TRANSIT, None),  # Picked up by shipping partner
    "81": (S.IN_TRANSIT, None),  # Arrived shipping partner facility
    "82": (S.IN_TRANSIT, None),  # Departed shipping partner facility
    "EF": (S.IN_TRANSIT, None),  # Departed sort facility
    "SF": (S.IN_TRANSIT, None),  # Departed post office
    "PC": (S.IN_TRANSIT, None),  # Sorting / processing complete
    "06": (S.IN_TRANSIT, R.CONSIGNEE_MOVED),  # Forwarded
    "08": (S.EXCEPTION, R.CARRIER_MISSORTED),  # Missent
    "15": (S.EXCEPTION, R.CARRIER_MISSORTED),  # Mis-shipped
    "71": (S.EXCEPTION, R.CARRIER_DELAY),  # Rescheduled to next delivery day
    "DX": (S.EXCEPTION, R.CARRIER_DELAY),  # Delivery status not updated
    "11": (S.EXCEPTION, R.CARRIER_LOST),  # Dead letter: neither deliverable nor returnable
    # last mile
    "OF": (S.OUT_FOR_DELIVERY, None),  # Out for delivery
    "01": (S.DELIVERED, None),  # Delivered
    "17": (S.DELIVERED, R.DELIVERED_PICKED_UP),  # Picked up by agent
    "43": (S.DELIVERED, R.DELIVERED_PICKED_UP),  # Picked up
    "14": (S.AVAILABLE_FOR_PICKUP, None),  # Arrival at pickup point
    "16": (S.AVAILABLE_FOR_PICKUP, None),  # Available for pickup
    # failed attempts
    "02": (S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),  # Attempted / notice left
    "52": (S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),  # Notice left
    "53": (S.ATTEMPT_FAIL, R.CONSIGNEE_NO_ACCESS),  # Receptacle blocked
    "54": (S.ATTEMPT_FAIL, R.CONSIGNEE_NO_SAFE_PLACE),  # Receptacle full / item oversized
    "55": (S.ATTEMPT_FAIL, R.CONSIGNEE_NO_SAFE_PLACE),  # No secure location available
    "56": (S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),  # No authorized recipient available
    "30": (S.ATTEMPT_FAIL, R.CONSIGNEE_NO_ACCESS),  # No access to delivery location
    "51": (S.ATTEMPT_FAIL, R.CONSIGNEE_BUSINESS_CLOSED),  # Business closed
    # returns
    "04": (S.RETURNING_TO_SENDER, R.CONSIGNEE_REFUSED),  # Refused
    "05": (S.RETURNING_TO_SENDER, R.CONSIGNEE_ADDRESS_INCORRECT),  # Undeliverable as addressed
    "09": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Return to sender
    "21": (S.RETURNING_TO_SENDER, R.CONSIGNEE_ADDRESS_INCORRECT),  # No such number
    "22": (S.RETURNING_TO_SENDER, R.CONSIGNEE_ADDRESS_INCOMPLETE),  # Insufficient address
    "23": (S.RETURNING_TO_SENDER, R.CONSIGNEE_MOVED),  # Moved, left no address
    "24": (S.RETURNING_TO_SENDER, R.CONSIGNEE_MOVED),  # Forward expired
    "25": (S.RETURNING_TO_SENDER, R.CONSIGNEE_ADDRESS_INCORRECT),  # Addressee unknown
    "26": (S.RETURNING_TO_SENDER, R.CONSIGNEE_MOVED),  # Vacant
    "27": (S.RETURNING_TO_SENDER, R.CONSIGNEE_NOT_COLLECTED),  # Unclaimed
    "28": (S.RETURNING_TO_SENDER, None),  # Deceased
    "29": (S.RETURNING_TO_SENDER, None),  # Other
    "31": (S.RETURNING_TO_SENDER, R.CONSIGNEE_NOT_COLLECTED),  # Not picked up
    "44": (S.RETURNING_TO_SENDER, R.RETAILER_RETURN_REQUESTED),  # Customer recall
}

#: Where a delivery (``01``) was left, from ``eventType``; the first match wins.
DELIVERY_PLACES: tuple[tuple[str, TrackingStatus, Reason], ...] = (
    ("original sender", S.RETURNED_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    ("neighbor", S.DELIVERED, R.DELIVERED_TO_NEIGHBOUR),
    ("left with individual", S.DELIVERED, R.DELIVERED_TO_RECIPIENT),
    ("picked up at", S.DELIVERED, R.DELIVERED_PICKED_UP),
    ("mail room", S.DELIVERED, R.DELIVERED_TO_MAILROOM),
    ("mailroom", S.DELIVERED, R.DELIVERED_TO_MAILROOM),
    ("front desk", S.DELIVERED, R.DELIVERED_TO_MAILROOM),
    ("reception", S.DELIVERED, R.DELIVERED_TO_MAILROOM),
    ("agent", S.DELIVERED, R.DELIVERED_TO_MAILROOM),
    ("front door", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("porch", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("mailbox", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("parcel locker", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("garage", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("back door", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("po box", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
)

#: Codes after which no estimated delivery date is worth keeping.
FINAL_CODES = frozenset({"01", "17", "43"})
