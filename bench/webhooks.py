"""Webhooks as each source sends them: the shop's ``oms`` and ``wms`` feeds in canonical JSON under
Standard Webhooks, UPS Track Alerts with their ``credential`` header, FedEx tracking pushes with
``fdx-signature``. :func:`posts` turns an order's story (:mod:`bench.orders`) into them: a UPS
or FedEx scan the carrier's code table can say goes out in the carrier's own format, any other
scan through the ``oms`` feed, attributed to its carrier, as a shop relaying a tracking
aggregator would.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from bench.orders import CITIES, Story, Told

SOURCES = ("oms", "wms", "ups", "fedex")


@dataclass(frozen=True, slots=True)
class Post:
    """One webhook delivery: where it goes, its bytes and its delivery id (signed when sent)."""

    source: str
    body: bytes
    delivery_id: str
    order: int  # index of the order it belongs to, -1 for junk
    malformed: bool = False


# ---------------------------------------------------------------------------------------------
# Native formats


def ups_alert(number: str, at: datetime, status: str, reason: str | None, edd: date) -> bytes:
    type_, code, text = _UPS.get((status, reason)) or _UPS[(status, None)]
    city, country, postcode, _ = CITIES[int(number[-3:]) % len(CITIES)]
    body: dict[str, Any] = {
        "trackingNumber": number,
        "localActivityDate": at.strftime("%Y%m%d"),
        "localActivityTime": at.strftime("%H%M%S"),
        "gmtActivityDate": at.strftime("%Y%m%d"),
        "gmtActivityTime": at.strftime("%H%M%S"),
        "activityStatus": {
            "type": type_,
            "code": code,
            "description": text,
            "descriptionCode": code,
        },
        "scheduledDeliveryDate": "" if status == "delivered" else edd.strftime("%Y%m%d"),
        "actualDeliveryDate": at.strftime("%Y%m%d") if status == "delivered" else "",
        "actualDeliveryTime": at.strftime("%H%M%S") if status == "delivered" else "",
    }
    if int(number[-2:]) % 2 == 0:  # half the scans say where they happened
        body["activityLocation"] = {
            "city": city,
            "stateProvince": "",
            "postalCode": postcode,
            "country": country,
        }
    return orjson.dumps(body)


_UPS: dict[tuple[str, str | None], tuple[str, str, str]] = {
    ("info_received", None): ("M", "003", "Shipment Ready for UPS"),
    ("in_transit", None): ("I", "005", "On the Way"),
    ("out_for_delivery", None): ("I", "021", "Out for Delivery"),
    ("delivered", None): ("D", "011", "Delivered"),
    ("attempt_fail", None): ("X", "022", "First Attempt Made"),
    ("exception", None): ("X", "013", "Exception"),
    ("exception", "weather_delay"): ("X", "051", "Delay: Severe Weather"),
    ("exception", "carrier_delay"): ("X", "046", "Delay"),
    ("exception", "consignee_address_incomplete"): ("X", "049", "Address Information Required"),
    ("returning_to_sender", None): ("RS", "035", "Returning to Sender"),
    ("returned_to_sender", None): ("RS", "034", "Returned to Sender"),
}

_FEDEX: dict[tuple[str, str | None], tuple[str, str]] = {
    ("info_received", None): ("OC", "Shipment information sent to FedEx"),
    ("in_transit", None): ("IT", "In transit"),
    ("out_for_delivery", None): ("OD", "On FedEx vehicle for delivery"),
    ("delivered", None): ("DL", "Delivered"),
    ("attempt_fail", None): ("DE", "Delivery exception"),
    ("exception", None): ("SE", "Shipment exception"),
    ("exception", "carrier_delay"): ("DY", "Delay"),
    ("exception", "customs_hold"): ("CD", "Clearance delay"),
    ("returning_to_sender", None): ("RS", "Return to shipper"),
}


def fedex_push(number: str, at: datetime, status: str, reason: str | None, edd: date) -> bytes:
    code, text = (
        _FEDEX.get((status, reason)) or _FEDEX.get((status, None)) or _FEDEX[("in_transit", None)]
    )
    city, country, postcode, _ = CITIES[int(number[-3:]) % len(CITIES)]
    scan = {
        "date": at.isoformat(),
        "eventType": code,
        "eventDescription": text,
        "exceptionCode": "",
        "exceptionDescription": "",
        "scanLocation": {"city": city, "postalCode": postcode, "countryCode": country},
        "derivedStatusCode": code,
        "derivedStatus": text,
    }
    result = {
        "trackingNumberInfo": {"trackingNumber": number, "carrierCode": "FDXG"},
        "latestStatusDetail": {},
        "dateAndTimes": [
            {"type": "ESTIMATED_DELIVERY", "dateTime": f"{edd.isoformat()}T00:00:00Z"}
        ],
        "scanEvents": [scan],
        "serviceDetail": {"type": "FEDEX_GROUND", "description": "FedEx Ground"},
    }
    return orjson.dumps(
        {
            "transactionId": f"sim-{number}-{at.timestamp():.0f}",
            "output": {
                "completeTrackResults": [{"trackingNumber": number, "trackResults": [result]}]
            },
        }
    )


def native(told: Told) -> tuple[str, bytes]:
    """The source that sends ``told`` and the body it sends."""
    scan = told.scan
    if scan is not None:
        codes: dict[tuple[str, str | None], Any] = (
            _UPS if scan.carrier == "ups" else _FEDEX if scan.carrier == "fedex" else {}
        )
        if (scan.status, scan.reason) in codes or (scan.status, None) in codes:
            build = ups_alert if scan.carrier == "ups" else fedex_push
            return scan.carrier, build(scan.number, told.at, scan.status, scan.reason, scan.edd)
    return told.source, orjson.dumps(told.body)


def posts(story: Story) -> list[tuple[datetime, Post]]:
    """Every delivery of the story, with the moment it tells."""
    out = []
    for told in story.told:
        source, body = native(told)
        out.append((told.at, Post(source, body, f"sim-{told.key}", story.index)))
    return out


def signed_headers(post: Post, secret: str, sent_at: float) -> dict[str, str]:
    from carriers.standard_webhooks import sign

    headers = {"Content-Type": "application/json"}
    if post.source in ("oms", "wms"):
        timestamp = int(sent_at)
        headers["webhook-id"] = post.delivery_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = sign(secret, post.delivery_id, timestamp, post.body)
    elif post.source == "ups":
        headers["credential"] = secret
    elif post.source == "fedex":
        headers["fdx-signature"] = hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
    return headers
