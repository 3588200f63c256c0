"""UPS status codes → (status, reason).

A UPS activity carries three codes (Track API ``activity[].status``, Track Alert
``activityStatus``): a one- or two-letter **type** (the family: manifest, in progress,
exception, delivered…), a two-character **code** (the scan, e.g. ``OT`` out for delivery) and a
three-digit **status / description code** (``statusCode`` / ``descriptionCode``, UPS's simplified
meaning, e.g. ``021`` out for delivery). They are looked up most specific first: description
code, then scan code, then the phrasing of an exception, then the type. An event recognised only
by its type keeps the type's status and reports ``UNMAPPED_CODE``.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.vocab import Reason, TrackingStatus

S = TrackingStatus
R = Reason

#: ``status.type``: the family UPS itself states for the activity.
TYPE_FAMILY: CodeTable = {
    "M": (S.INFO_RECEIVED, None),  # manifest: label created, billing information received
    "MV": (S.INFO_RECEIVED, R.RETAILER_LABEL_CANCELLED),  # manifest voided
    "P": (S.IN_TRANSIT, None),  # pickup
    "I": (S.IN_TRANSIT, None),  # in progress through the network
    "U": (S.IN_TRANSIT, None),  # update (usually a new scheduled delivery)
    "W": (S.IN_TRANSIT, None),  # warehousing
    "X": (S.EXCEPTION, None),  # exception: something out of the ordinary
    "D": (S.DELIVERED, None),
    "DO": (S.DELIVERED, None),  # delivered at origin freight terminal
    "DD": (S.DELIVERED, None),  # delivered at destination freight terminal
    "RS": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    "NA": (S.UNKNOWN, None),
}

#: ``status.statusCode`` / ``activityStatus.descriptionCode``.
DESCRIPTION_CODES: CodeTable = {
    "003": (S.INFO_RECEIVED, None),  # Shipment Ready for UPS
    "005": (S.IN_TRANSIT, None),  # On the Way
    "011": (S.DELIVERED, None),  # Delivered
    "012": (S.IN_TRANSIT, None),  # Clearance in Progress
    "013": (S.EXCEPTION, None),  # Exception
    "014": (S.IN_TRANSIT, None),  # Clearance Completed
    "016": (S.EXCEPTION, R.CARRIER_HELD_AT_FACILITY),  # Held in Warehouse
    "017": (S.AVAILABLE_FOR_PICKUP, None),  # Held for Customer Pickup
    "018": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery Change Requested: Hold
    "019": (S.EXCEPTION, R.CONSIGNEE_REQUESTED_HOLD),  # Held for Future Delivery
    "020": (S.EXCEPTION, R.CONSIGNEE_REQUESTED_HOLD),  # Held for Future Delivery Requested
    "021": (S.OUT_FOR_DELIVERY, None),  # Out for Delivery
    "022": (S.ATTEMPT_FAIL, None),  # First Attempt Made
    "023": (S.ATTEMPT_FAIL, None),  # Second Attempt Made
    "024": (S.ATTEMPT_FAIL, None),  # Final Attempt Made
    "025": (S.IN_TRANSIT, None),  # Transferred to Local Post Office for Delivery
    "026": (S.DELIVERED, None),  # Delivered by Local Post Office
    "027": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery Address Change Requested
    "028": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery Address Changed
    "029": (S.EXCEPTION, None),  # Exception: Action Required
    "030": (S.EXCEPTION, None),  # Local Post Office Exception
    "032": (S.EXCEPTION, R.WEATHER_DELAY),  # Adverse Weather May Cause Delay
    "033": (S.RETURNING_TO_SENDER, R.RETAILER_RETURN_REQUESTED),  # Return to Sender Requested
    "034": (S.RETURNED_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Returned to Sender
    "035": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Returning to Sender
    "036": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Returning: In Transit
    "037": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Returning: Out for Delivery
    "038": (S.IN_TRANSIT, None),  # Picked Up
    "039": (S.IN_TRANSIT, None),  # In Transit by Post
    "040": (S.AVAILABLE_FOR_PICKUP, None),  # Delivered to UPS Access Point, Awaiting Pickup
    "044": (S.IN_TRANSIT, None),  # In Transit to UPS
    "045": (S.INFO_RECEIVED, None),  # Order Processed: Ready for UPS
    "046": (S.EXCEPTION, R.CARRIER_DELAY),  # Delay
    "047": (S.EXCEPTION, R.CARRIER_DELAY),  # Delay
    "048": (S.EXCEPTION, None),  # Delay: Action Required
    "049": (S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCOMPLETE),  # Address Information Required
    "050": (S.EXCEPTION, R.WEATHER_NATURAL_DISASTER),  # Delay: Emergency or Severe Weather
    "051": (S.EXCEPTION, R.WEATHER_DELAY),  # Delay: Severe Weather
    "052": (S.EXCEPTION, R.WEATHER_DELAY),  # Delay: Severe Weather, Recovery in Progress
    "053": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Delivery Change Requested
    "054": (S.IN_TRANSIT, R.CONSIGNEE_RESCHEDULED),  # Rescheduled Delivery
    "056": (S.IN_TRANSIT, None),  # In Transit to a UPS Facility
    "057": (S.EXPIRED, R.RETAILER_LABEL_CANCELLED),  # Cancelled
    "071": (S.IN_TRANSIT, None),  # Preparing for Delivery
    "072": (S.OUT_FOR_DELIVERY, None),  # Loaded on Delivery Vehicle
}

#: ``status.code``: the two-character scan code.
ACTIVITY_CODES: CodeTable = {
    "MP": (S.INFO_RECEIVED, None),  # Shipment Ready for UPS
    "OR": (S.IN_TRANSIT, None),  # Origin Scan
    "PU": (S.IN_TRANSIT, None),  # Pickup Scan
    "AR": (S.IN_TRANSIT, None),  # Arrival Scan
    "DP": (S.IN_TRANSIT, None),  # Departure Scan
    "EP": (S.IN_TRANSIT, None),  # Export Scan
    "IP": (S.IN_TRANSIT, None),  # Import Scan
    "YP": (S.IN_TRANSIT, None),  # Preparing for Delivery
    "OT": (S.OUT_FOR_DELIVERY, None),  # Out for Delivery
    "FS": (S.DELIVERED, None),  # Delivered
    "KB": (S.DELIVERED, None),  # Delivered
    "KM": (S.DELIVERED, R.DELIVERED_TO_MAILROOM),  # Delivered to Mailroom
    "ZP": (S.AVAILABLE_FOR_PICKUP, None),  # Delivered to UPS Access Point
    "RS": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),  # Returned to Shipper
}

#: ``deliveryInformation.location`` of a delivered package (lower-cased substring) → where it
#: was left, when the delivery's own code says nothing more.
DELIVERY_PLACES: tuple[tuple[str, Reason], ...] = (
    ("neighbor", R.DELIVERED_TO_NEIGHBOUR),
    ("receiver", R.DELIVERED_TO_RECIPIENT),
    ("mail room", R.DELIVERED_TO_MAILROOM),
    ("mailroom", R.DELIVERED_TO_MAILROOM),
    ("reception", R.DELIVERED_TO_MAILROOM),
    ("front desk", R.DELIVERED_TO_MAILROOM),
    ("office", R.DELIVERED_TO_MAILROOM),
    ("dock", R.DELIVERED_TO_MAILROOM),
    ("door", R.DELIVERED_TO_SAFE_PLACE),
    ("porch", R.DELIVERED_TO_SAFE_PLACE),
    ("garage", R.DELIVERED_TO_SAFE_PLACE),
    ("patio", R.DELIVERED_TO_SAFE_PLACE),
)

#: How UPS words its exceptions; checked (lower-cased substring) when no code matched.
EXCEPTION_PHRASES: tuple[tuple[str, TrackingStatus, Reason], ...] = (
    ("receiver was not available", S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),
    ("business was closed", S.ATTEMPT_FAIL, R.CONSIGNEE_BUSINESS_CLOSED),
    ("refused", S.RETURNING_TO_SENDER, R.CONSIGNEE_REFUSED),
    ("has moved", S.EXCEPTION, R.CONSIGNEE_MOVED),
    ("address is incorrect", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),
    ("incorrect address", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),
    ("address was incomplete", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCOMPLETE),
    ("missing or incomplete", S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCOMPLETE),
    ("brokerage", S.EXCEPTION, R.CUSTOMS_HOLD),
    ("customs", S.EXCEPTION, R.CUSTOMS_HOLD),
    ("duties", S.EXCEPTION, R.CUSTOMS_DUTIES_DUE),
    ("payment", S.EXCEPTION, R.CONSIGNEE_PAYMENT_REQUIRED),
    ("weather", S.EXCEPTION, R.WEATHER_DELAY),
    ("damaged", S.EXCEPTION, R.CARRIER_DAMAGED),
    ("unable to locate", S.EXCEPTION, R.CARRIER_LOST),
    ("missorted", S.EXCEPTION, R.CARRIER_MISSORTED),
    ("mechanical", S.EXCEPTION, R.CARRIER_VEHICLE_ISSUE),
    ("unreadable", S.EXCEPTION, R.CARRIER_LABEL_UNREADABLE),
    ("inaccessible", S.ATTEMPT_FAIL, R.CONSIGNEE_NO_ACCESS),
    ("restricted access", S.ATTEMPT_FAIL, R.CONSIGNEE_NO_ACCESS),
)
