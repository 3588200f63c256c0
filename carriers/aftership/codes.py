"""AfterShip tags (delivery statuses) and subtags (delivery sub-statuses) → our status and reason.

Every checkpoint carries a ``tag`` such as ``Exception`` and a ``subtag`` such as
``Exception_011``. The subtag is looked up first; a subtag we do not know falls back to its tag's
status (the best status AfterShip gives) and is reported as unmapped.
"""

from __future__ import annotations

from carriers.code_tables import CodeTable
from wismo.vocab import Reason as R
from wismo.vocab import TrackingStatus as S

TAGS: CodeTable = {
    "Pending": (S.PENDING, None),
    "InfoReceived": (S.INFO_RECEIVED, None),
    "InTransit": (S.IN_TRANSIT, None),
    "OutForDelivery": (S.OUT_FOR_DELIVERY, None),
    "AttemptFail": (S.ATTEMPT_FAIL, None),
    "Delivered": (S.DELIVERED, None),
    "AvailableForPickup": (S.AVAILABLE_FOR_PICKUP, None),
    "Exception": (S.EXCEPTION, None),
    "Expired": (S.EXPIRED, None),
}

SUBTAGS: CodeTable = {
    "Pending_001": (S.PENDING, None),  # no information yet
    "Pending_002": (S.PENDING, None),
    "Pending_003": (S.PENDING, None),
    "Pending_004": (S.PENDING, None),
    "Pending_005": (S.PENDING, None),
    "Pending_006": (S.PENDING, None),
    "InfoReceived_001": (S.INFO_RECEIVED, None),
    "InTransit_001": (S.IN_TRANSIT, None),
    "InTransit_002": (S.IN_TRANSIT, None),  # acceptance scan
    "InTransit_003": (S.IN_TRANSIT, None),  # arrival scan
    "InTransit_004": (S.IN_TRANSIT, None),  # arrived at the destination country
    "InTransit_005": (S.IN_TRANSIT, None),  # customs clearance completed
    "InTransit_006": (S.IN_TRANSIT, None),  # customs clearance started
    "InTransit_007": (S.IN_TRANSIT, None),  # departure scan
    "InTransit_008": (S.IN_TRANSIT, None),  # problem resolved
    "InTransit_009": (S.IN_TRANSIT, R.CONSIGNEE_MOVED),  # forwarded to a different address
    "OutForDelivery_001": (S.OUT_FOR_DELIVERY, None),
    "OutForDelivery_003": (S.OUT_FOR_DELIVERY, None),  # customer contacted
    "OutForDelivery_004": (S.OUT_FOR_DELIVERY, None),  # delivery appointment scheduled
    "AttemptFail_001": (S.ATTEMPT_FAIL, None),
    "AttemptFail_002": (S.ATTEMPT_FAIL, R.CONSIGNEE_NOT_AVAILABLE),
    "AttemptFail_003": (S.ATTEMPT_FAIL, R.CONSIGNEE_BUSINESS_CLOSED),
    "Delivered_001": (S.DELIVERED, R.DELIVERED_TO_RECIPIENT),
    "Delivered_002": (S.DELIVERED, R.DELIVERED_PICKED_UP),
    "Delivered_003": (S.DELIVERED, R.DELIVERED_TO_RECIPIENT),  # signed by the customer
    "Delivered_004": (S.DELIVERED, R.DELIVERED_TO_RECIPIENT),  # cash on delivery collected
    "Delivered_005": (S.DELIVERED, R.DELIVERED_TO_NEIGHBOUR),
    "AvailableForPickup_001": (S.AVAILABLE_FOR_PICKUP, None),
    "Exception_001": (S.EXCEPTION, None),
    "Exception_002": (S.EXCEPTION, R.CONSIGNEE_MOVED),
    "Exception_003": (S.EXCEPTION, R.CONSIGNEE_REFUSED),
    "Exception_004": (S.EXCEPTION, R.CUSTOMS_HOLD),
    "Exception_005": (S.EXCEPTION, R.CARRIER_DELAY),  # delayed by external factors
    "Exception_006": (S.EXCEPTION, R.CONSIGNEE_PAYMENT_REQUIRED),
    "Exception_007": (S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),
    "Exception_008": (S.EXCEPTION, R.CONSIGNEE_NOT_COLLECTED),  # pick-up missed
    "Exception_009": (S.EXCEPTION, R.RETAILER_PACKAGING),  # rejected by the carrier
    "Exception_010": (S.RETURNING_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    "Exception_011": (S.RETURNED_TO_SENDER, R.CARRIER_RETURN_TO_SENDER),
    "Exception_012": (S.EXCEPTION, R.CARRIER_DAMAGED),
    "Exception_013": (S.EXCEPTION, R.CARRIER_LOST),
    "Exception_016": (S.EXCEPTION, R.CARRIER_DELAY),  # processing issue (vehicle, misroute…)
    "Exception_017": (S.EXCEPTION, R.WEATHER_DELAY),
    "Exception_018": (S.EXCEPTION, R.CUSTOMS_DOCUMENTS_REQUIRED),
    "Exception_019": (S.EXCEPTION, R.CARRIER_DELAY),  # late flight
    "Exception_020": (S.EXCEPTION, R.RETAILER_LABEL_CANCELLED),
    "Exception_021": (S.EXCEPTION, R.CARRIER_LOST),  # disposed of: it will not arrive
    "Expired_001": (S.EXPIRED, None),
}
