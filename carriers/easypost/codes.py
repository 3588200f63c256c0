"""EasyPost tracker ``status`` → our status, ``status_detail`` → our reason, and carrier names.

EasyPost reports the two separately on the tracker and on every tracking detail, so the status
table and the detail table are looked up independently: ``failure`` + ``refused`` is an
exception because the consignee refused, ``return_to_sender`` + ``refused`` a return for the same
reason.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable, ReasonTable
from wismo.vocab import Reason as R
from wismo.vocab import TrackingStatus as S

STATUSES: CodeTable = {
    "unknown": (S.UNKNOWN, None),
    "pre_transit": (S.INFO_RECEIVED, None),
    "in_transit": (S.IN_TRANSIT, None),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, None),
    "available_for_pickup": (S.AVAILABLE_FOR_PICKUP, None),
    "delivered": (S.DELIVERED, None),
    "return_to_sender": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    "failure": (S.EXCEPTION, None),
    "cancelled": (S.EXCEPTION, R.RETAILER_LABEL_CANCELLED),
    "error": (S.PENDING, None),  # EasyPost could not fetch tracking (yet)
}

STATUS_DETAILS: ReasonTable = {
    "address_correction": R.CONSIGNEE_ADDRESS_INCORRECT,
    "arrived_at_destination": None,
    "arrived_at_facility": None,
    "arrived_at_pickup_location": None,
    "awaiting_information": None,
    "cancelled": R.RETAILER_LABEL_CANCELLED,
    "damaged": R.CARRIER_DAMAGED,
    "delayed": R.CARRIER_DELAY,
    "delivery_exception": None,  # the message says which; EasyPost does not
    "departed_facility": None,
    "departed_origin_facility": None,
    "expired": None,
    "failure": None,
    "held": R.CARRIER_HELD_AT_FACILITY,
    "in_transit": None,
    "label_created": None,
    "lost": R.CARRIER_LOST,
    "missorted": R.CARRIER_MISSORTED,
    "out_for_delivery": None,
    "received_at_destination_facility": None,
    "received_at_origin_facility": None,
    "refused": R.CONSIGNEE_REFUSED,
    "return": R.CARRIER_RETURN_TO_SENDER,
    "status_update": None,
    "transferred_to_destination_carrier": None,
    "transit_exception": R.CARRIER_DELAY,
    "unknown": None,
    "weather_delay": R.WEATHER_DELAY,
}

#: Status and detail together, where the pair says more than either: looked up first.
PAIRS: CodeTable = {
    # a return leg that reached its destination is back at the shipper
    "return_to_sender:arrived_at_destination": (
        S.RETURNED_TO_SENDER,
        R.CARRIER_RETURN_TO_SENDER,
    ),
}

#: EasyPost carrier names → wismo's; others are lower-cased.
CARRIERS: dict[str, str] = {
    "UPS": "ups",
    "UPSDAP": "ups",
    "FedEx": "fedex",
    "FedExDefault": "fedex",
    "FedExSmartPost": "fedex",
    "USPS": "usps",
    "DHLExpress": "dhl",
    "DHLEcommerce": "dhl",
}
