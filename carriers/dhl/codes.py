"""DHL tracking codes → (status, reason).

DHL Express events carry a two-letter checkpoint code (``typeCode`` in the MyDHL API, and in
the Unified API's Express events where present); every Unified API event carries a
``statusCode`` family (``pre-transit``, ``transit``, ``delivered``, ``failure``, ``unknown``) and
a description. Checkpoint codes decide; otherwise the family gives the status and the
description's wording refines it (a parcel put into a locker is waiting for pickup, a delivery
to a neighbour is still a delivery). An unknown checkpoint code keeps its family's status and
reports ``UNMAPPED_CODE``.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.vocab import Reason, TrackingStatus

S = TrackingStatus
R = Reason

#: Unified API ``statusCode``.
FAMILIES: CodeTable = {
    "pre-transit": (S.INFO_RECEIVED, None),
    "transit": (S.IN_TRANSIT, None),
    "delivered": (S.DELIVERED, None),
    "failure": (S.EXCEPTION, None),
    "unknown": (S.UNKNOWN, None),
}

#: DHL Express checkpoint codes.
EXPRESS_CODES: CodeTable = {
    "SA": (S.INFO_RECEIVED, None),  # Shipment acceptance
    "PU": (S.IN_TRANSIT, None),  # Shipment picked up
    "PL": (S.IN_TRANSIT, None),  # Processed at location
    "DF": (S.IN_TRANSIT, None),  # Departed facility
    "AF": (S.IN_TRANSIT, None),  # Arrived at facility
    "AR": (S.IN_TRANSIT, None),  # Arrived at delivery facility
    "FD": (S.IN_TRANSIT, None),  # Forwarded to destination
    "TP": (S.IN_TRANSIT, None),  # Forwarded to third party
    "TR": (S.IN_TRANSIT, None),  # Record of transfer
    "SC": (S.IN_TRANSIT, None),  # Service changed
    "SM": (S.IN_TRANSIT, None),  # Scheduled for movement
    "RR": (S.IN_TRANSIT, None),  # Response received
    "CR": (S.IN_TRANSIT, None),  # Clearance release
    "BR": (S.IN_TRANSIT, None),  # Broker release
    "IC": (S.IN_TRANSIT, None),  # In clearance processing
    "BN": (S.IN_TRANSIT, None),  # Customer's broker notified
    "PY": (S.IN_TRANSIT, None),  # Payment received
    "AD": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery agreed with receiver
    "WC": (S.OUT_FOR_DELIVERY, None),  # With delivery courier
    "OK": (S.DELIVERED, None),  # Delivered
    "DD": (S.DELIVERED, R.CARRIER_DAMAGED),  # Delivered damaged
    "PD": (S.EXCEPTION, None),  # Partial delivery
    "CC": (S.AVAILABLE_FOR_PICKUP, None),  # Awaiting collection by receiver
    "NH": (S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),  # Not home
    "CA": (S.ATTEMPT_FAIL, R.CONSIGNEE_BUSINESS_CLOSED),  # Closed on arrival
    "ND": (S.ATTEMPT_FAIL, None),  # Not delivered
    "BA": (S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),  # Bad address
    "CM": (S.EXCEPTION, R.CONSIGNEE_MOVED),  # Receiver moved
    "RD": (S.EXCEPTION, R.CONSIGNEE_REFUSED),  # Refused delivery
    "HP": (S.EXCEPTION, R.CONSIGNEE_PAYMENT_REQUIRED),  # Held for payment
    "CD": (S.EXCEPTION, R.CUSTOMS_HOLD),  # Controllable clearance delay
    "OH": (S.EXCEPTION, R.CARRIER_HELD_AT_FACILITY),  # On hold
    "MS": (S.EXCEPTION, R.CARRIER_MISSORTED),  # Mis-sort / misrouted
    "MD": (S.EXCEPTION, R.CARRIER_DELAY),  # Missed delivery cycle
    "TD": (S.EXCEPTION, R.CARRIER_DELAY),  # Transport delay
    "DM": (S.EXCEPTION, R.CARRIER_DAMAGED),  # Damaged
    "WX": (S.EXCEPTION, R.WEATHER_DELAY),  # Weather delay
    "SS": (S.EXCEPTION, None),  # Shipment stopped
    "ST": (S.EXCEPTION, None),  # Shipment intercepted
    "RT": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Returned to shipper
}

#: Unified API wording (lower-cased substring of ``description`` or ``status``), first match
#: wins, used for events without a checkpoint code.
PHRASES: tuple[tuple[str, TrackingStatus, Reason | None], ...] = (
    ("refused", S.RETURNING_TO_SENDER, R.CONSIGNEE_REFUSED),
    ("being returned", S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    ("returned to the sender", S.RETURNED_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    ("picked up by the recipient", S.DELIVERED, R.DELIVERED_PICKED_UP),
    ("neighbour", S.DELIVERED, R.DELIVERED_TO_NEIGHBOUR),
    ("neighbor", S.DELIVERED, R.DELIVERED_TO_NEIGHBOUR),
    ("drop-off location", S.DELIVERED, R.DELIVERED_TO_SAFE_PLACE),
    ("packstation", S.AVAILABLE_FOR_PICKUP, None),
    ("parcel locker", S.AVAILABLE_FOR_PICKUP, None),
    ("ready for pick-up", S.AVAILABLE_FOR_PICKUP, None),
    ("ready for pickup", S.AVAILABLE_FOR_PICKUP, None),
    ("out for delivery", S.OUT_FOR_DELIVERY, None),
    ("loaded onto the delivery vehicle", S.OUT_FOR_DELIVERY, None),
    ("not at home", S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),
    ("could not be delivered", S.ATTEMPT_FAIL, None),
    ("address is incorrect", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),
    ("incorrect address", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),
    ("address is incomplete", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCOMPLETE),
    ("recipient has moved", S.EXCEPTION, R.CONSIGNEE_MOVED),
    ("recipient moved", S.EXCEPTION, R.CONSIGNEE_MOVED),
    ("duties", S.EXCEPTION, R.CUSTOMS_DUTIES_DUE),
    ("customs", S.EXCEPTION, R.CUSTOMS_HOLD),
    ("weather", S.EXCEPTION, R.WEATHER_DELAY),
    ("damaged", S.EXCEPTION, R.CARRIER_DAMAGED),
)
