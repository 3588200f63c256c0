"""Properties of the UPS, FedEx, USPS and DHL parsers beyond their recorded fixtures.

* The order in which a carrier lists its scans does not matter: any permutation gives the same
  events (ids are natural keys, the EDD is stated at the newest scan whatever its position).
* A scan pushed by a webhook and the same scan polled from the tracking API are one event.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.registry import get
from wismo.events import dump_event

HERE = Path(__file__).parent
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)

#: (source, fixture, path to the list of scans inside the payload)
SCAN_LISTS: list[tuple[str, str, tuple[str | int, ...]]] = [
    ("ups", "track_delivered", ("trackResponse", "shipment", 0, "package", 0, "activity")),
    ("ups", "track_in_transit_edd", ("trackResponse", "shipment", 0, "package", 0, "activity")),
    ("ups", "track_exceptions", ("trackResponse", "shipment", 0, "package", 0, "activity")),
    (
        "fedex",
        "delivered",
        ("output", "completeTrackResults", 0, "trackResults", 0, "scanEvents"),
    ),
    (
        "fedex",
        "in_transit_edd",
        ("output", "completeTrackResults", 0, "trackResults", 0, "scanEvents"),
    ),
    ("usps", "delivered_front_door", ("trackingEvents",)),
    ("usps", "attempted_notices", ("trackingEvents",)),
    ("dhl", "mydhl_express_exceptions", ("shipments", 0, "events")),
    ("dhl", "edd_time_frame", ("shipments", 0, "events")),
]


def _load(source: str, name: str) -> Any:
    return orjson.loads((HERE / source / f"{name}.json").read_bytes())


def _events(source: str, payload: Any) -> set[bytes]:
    result = get(source).parse(orjson.dumps(payload), {}, RECEIVED_AT)
    assert not result.fatal
    return {dump_event(event) for event in result.events}


def _scans(payload: Any, path: tuple[str | int, ...]) -> list[Any]:
    node = payload
    for step in path:
        node = node[step]
    assert isinstance(node, list)
    return node


@pytest.mark.parametrize(("source", "name", "path"), SCAN_LISTS, ids=lambda v: str(v))
@given(data=st.data())
def test_scan_order_does_not_matter(
    source: str, name: str, path: tuple[str | int, ...], data: st.DataObject
) -> None:
    payload = _load(source, name)
    shuffled = copy.deepcopy(payload)
    scans = _scans(shuffled, path)
    scans[:] = data.draw(st.permutations(scans))
    assert _events(source, shuffled) == _events(source, payload)


def test_a_track_alert_and_a_track_api_poll_of_one_scan_are_one_event() -> None:
    alert = _load("ups", "alert_out_for_delivery")
    status = alert["activityStatus"]
    location = alert["activityLocation"]
    polled = {
        "trackResponse": {
            "shipment": [
                {
                    "inquiryNumber": alert["trackingNumber"],
                    "package": [
                        {
                            "trackingNumber": alert["trackingNumber"],
                            "activity": [
                                {
                                    "location": {"address": {**location, "countryCode": "US"}},
                                    "status": {
                                        "type": status["type"],
                                        "code": status["code"],
                                        "description": status["description"],
                                        "statusCode": status["descriptionCode"],
                                    },
                                    "date": alert["localActivityDate"],
                                    "time": alert["localActivityTime"],
                                    "gmtDate": alert["gmtActivityDate"],
                                    "gmtTime": alert["gmtActivityTime"],
                                    "gmtOffset": "-04:00",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    }
    ups = get("ups")
    pushed = ups.parse(orjson.dumps(alert), {}, RECEIVED_AT).events
    pulled = ups.parse(orjson.dumps(polled), {}, RECEIVED_AT).events
    pushed_scan = next(e for e in pushed if e.kind == "tracking.checkpoint")
    (pulled_scan,) = pulled
    assert dump_event(pushed_scan) == dump_event(pulled_scan)


def test_a_fedex_webhook_and_a_poll_of_one_scan_are_one_event() -> None:
    pushed = _load("fedex", "webhook_push")
    polled = {key: value for key, value in pushed.items() if key != "outputMetaData"}
    polled["transactionId"] = "another-request"
    fedex = get("fedex")
    assert fedex.parse(orjson.dumps(pushed), {}, RECEIVED_AT).events == (
        fedex.parse(orjson.dumps(polled), {}, RECEIVED_AT).events
    )
