"""FedEx tracking codes → (status, reason).

A FedEx scan event has an ``eventType`` (the scan: ``PU`` picked up, ``OD`` on vehicle for
delivery, ``DE`` delivery exception…), for exceptions an ``exceptionCode`` with its
``exceptionDescription`` (why: recipient not in, incorrect address…), and a coarser
``derivedStatusCode``. The exception code decides when it is known; otherwise the event type
gives the status and the exception's wording the reason; an unknown event type falls back to the
derived status and reports ``UNMAPPED_CODE``.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.vocab import Reason, TrackingStatus

S = TrackingStatus
R = Reason

#: ``scanEvents[].eventType`` (also used for ``derivedStatusCode``, which shares the codes).
EVENT_TYPES: CodeTable = {
    "OC": (S.INFO_RECEIVED, None),  # Shipment information sent to FedEx
    "IN": (S.INFO_RECEIVED, None),  # Initiated
    "EP": (S.INFO_RECEIVED, None),  # Enroute to pickup
    "AP": (S.INFO_RECEIVED, None),  # At pickup
    "PD": (S.INFO_RECEIVED, R.CARRIER_DELAY),  # Pickup delay
    "PU": (S.IN_TRANSIT, None),  # Picked up
    "PX": (S.IN_TRANSIT, None),  # Picked up (see details)
    "AA": (S.IN_TRANSIT, None),  # At airport
    "AC": (S.IN_TRANSIT, None),  # At Canada Post facility
    "AF": (S.IN_TRANSIT, None),  # At local FedEx facility
    "AR": (S.IN_TRANSIT, None),  # Arrived at FedEx location
    "AX": (S.IN_TRANSIT, None),  # At USPS facility
    "CH": (S.IN_TRANSIT, None),  # Location changed
    "CC": (S.IN_TRANSIT, None),  # Cleared customs
    "CP": (S.IN_TRANSIT, None),  # Clearance in progress
    "DP": (S.IN_TRANSIT, None),  # Departed FedEx location
    "DR": (S.IN_TRANSIT, None),  # Vehicle furnished but not used
    "DS": (S.IN_TRANSIT, None),  # Vehicle dispatched
    "EA": (S.IN_TRANSIT, None),  # Enroute to airport
    "ED": (S.IN_TRANSIT, None),  # Enroute to delivery
    "EO": (S.IN_TRANSIT, None),  # Enroute to origin airport
    "FD": (S.IN_TRANSIT, None),  # At FedEx destination facility
    "IT": (S.IN_TRANSIT, None),  # In transit
    "IX": (S.IN_TRANSIT, None),  # In transit (see details)
    "LO": (S.IN_TRANSIT, None),  # Left FedEx origin facility
    "OF": (S.IN_TRANSIT, None),  # At FedEx origin facility
    "OX": (S.IN_TRANSIT, None),  # Shipment information sent to USPS
    "PF": (S.IN_TRANSIT, None),  # Plane in flight
    "PL": (S.IN_TRANSIT, None),  # Plane landed
    "PM": (S.IN_TRANSIT, None),  # In progress
    "SF": (S.IN_TRANSIT, None),  # At sort facility
    "SP": (S.IN_TRANSIT, None),  # Split status
    "TR": (S.IN_TRANSIT, None),  # Transfer
    "RR": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery option requested
    "RM": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery option modified
    "RC": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery option cancelled
    "AD": (S.OUT_FOR_DELIVERY, None),  # At delivery
    "OD": (S.OUT_FOR_DELIVERY, None),  # On FedEx vehicle for delivery
    "HL": (S.AVAILABLE_FOR_PICKUP, None),  # Held at location: ready for recipient pickup
    "HP": (S.AVAILABLE_FOR_PICKUP, None),  # Ready for recipient pickup
    "DL": (S.DELIVERED, None),  # Delivered
    "DE": (S.ATTEMPT_FAIL, None),  # Delivery exception
    "SE": (S.EXCEPTION, None),  # Shipment exception
    "DY": (S.EXCEPTION, R.CARRIER_DELAY),  # Delay
    "DD": (S.EXCEPTION, R.CARRIER_DELAY),  # Delivery delay
    "CD": (S.EXCEPTION, R.CUSTOMS_HOLD),  # Clearance delay
    "CA": (S.EXPIRED, R.RETAILER_LABEL_CANCELLED),  # Shipment cancelled
    "RS": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Return to shipper
    "RP": (S.INFO_RECEIVED, R.RETAILER_RETURN_REQUESTED),  # Return label link e-mailed
}

#: ``scanEvents[].exceptionCode``: FedEx's delivery (DEX) and shipment (SEX) exception codes.
EXCEPTION_CODES: CodeTable = {
    "03": (S.ATTEMPT_FAIL, R.CONSIGNEE_ADDRESS_INCORRECT),  # Incorrect address
    "07": (S.ATTEMPT_FAIL, R.CONSIGNEE_REFUSED),  # Refused by recipient
    "08": (S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),  # Recipient not in / business closed
    "10": (S.EXCEPTION, R.CARRIER_DAMAGED),  # Damaged, delivery not completed
    "12": (S.EXCEPTION, R.CARRIER_MISSORTED),  # Package sorted to wrong route
    "15": (S.ATTEMPT_FAIL, R.CONSIGNEE_BUSINESS_CLOSED),  # Business closed, no attempt
    "17": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Customer requested future delivery
}

#: How FedEx words exceptions; checked (lower-cased substring) when the code is unknown.
EXCEPTION_PHRASES: tuple[tuple[str, Reason], ...] = (
    ("not available", R.CONSIGNEE_NOT_AVAILABLE),
    ("recipient not in", R.CONSIGNEE_NOT_AVAILABLE),
    ("business closed", R.CONSIGNEE_BUSINESS_CLOSED),
    ("refused", R.CONSIGNEE_REFUSED),
    ("incorrect address", R.CONSIGNEE_ADDRESS_INCORRECT),
    ("incomplete address", R.CONSIGNEE_ADDRESS_INCOMPLETE),
    ("moved", R.CONSIGNEE_MOVED),
    ("damaged", R.CARRIER_DAMAGED),
    ("weather", R.WEATHER_DELAY),
    ("natural disaster", R.WEATHER_NATURAL_DISASTER),
    ("clearance", R.CUSTOMS_HOLD),
    ("customs", R.CUSTOMS_HOLD),
    ("duties", R.CUSTOMS_DUTIES_DUE),
    ("payment", R.CONSIGNEE_PAYMENT_REQUIRED),
    ("wrong route", R.CARRIER_MISSORTED),
    ("unable to locate", R.CARRIER_LOST),
    ("no access", R.CONSIGNEE_NO_ACCESS),
    ("holiday", R.EXTERNAL_HOLIDAY),
)

#: Where a delivered parcel was left (``deliveryDetails.locationDescription``), first match wins.
DELIVERY_PLACES: tuple[tuple[str, Reason], ...] = (
    ("neighbor", R.DELIVERED_TO_NEIGHBOUR),
    ("mailroom", R.DELIVERED_TO_MAILROOM),
    ("mail room", R.DELIVERED_TO_MAILROOM),
    ("receiving", R.DELIVERED_TO_MAILROOM),
    ("front desk", R.DELIVERED_TO_MAILROOM),
    ("reception", R.DELIVERED_TO_MAILROOM),
    ("guard", R.DELIVERED_TO_MAILROOM),
    ("porch", R.DELIVERED_TO_SAFE_PLACE),
    ("door", R.DELIVERED_TO_SAFE_PLACE),
    ("garage", R.DELIVERED_TO_SAFE_PLACE),
    ("patio", R.DELIVERED_TO_SAFE_PLACE),
)
#: ``scanEvents[].locationType`` of a delivery the recipient collected.
PICKUP_LOCATION_TYPES = frozenset({"HOLD_AT_LOCATION", "FEDEX_OFFICE_LOCATION", "FEDEX_ONSITE"})
