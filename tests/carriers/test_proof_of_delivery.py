"""A carrier's proof of delivery lands on the delivered scan only, and an unusable link is left
out without losing the scan."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from carriers.build import MAX_PROOF_URL, Proof, checkpoint_event
from carriers.usps.parse import parse as parse_usps
from wismo.events import TrackingCheckpointEvent
from wismo.vocab import TrackingStatus

AT = datetime(2024, 6, 1, 12, tzinfo=UTC)


def _scan(status: TrackingStatus, proof: Proof) -> dict[str, object]:
    event = checkpoint_event(
        "test",
        tracking_number="1Z999AA10123456784",
        occurred_at=AT,
        status=status,
        reason=None,
        raw_code="D",
        message=None,
        location=None,
        carrier="ups",
        estimated_delivery=None,
        received_at=AT,
        proof=proof,
    )
    return event.payload.model_dump(exclude_none=True)


def test_a_delivery_keeps_who_signed_and_the_https_link() -> None:
    payload = _scan(
        TrackingStatus.DELIVERED, Proof(signed_by="  J. DOE ", url="https://pod.example/1")
    )
    assert payload["signed_by"] == "J. DOE"
    assert payload["proof_of_delivery_url"] == "https://pod.example/1"


def test_a_scan_that_is_no_delivery_carries_no_proof() -> None:
    payload = _scan(TrackingStatus.ATTEMPT_FAIL, Proof(signed_by="X", url="https://pod.example"))
    assert "signed_by" not in payload
    assert "proof_of_delivery_url" not in payload


@pytest.mark.parametrize(
    "url",
    [
        "http://pod.example/1",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://pod.example/" + "a" * MAX_PROOF_URL,
        "R0lGODlhAQABAAAAACw=",
        42,
    ],
)
def test_an_unusable_link_is_left_out_and_the_scan_kept(url: object) -> None:
    payload = _scan(TrackingStatus.DELIVERED, Proof(signed_by="J. DOE", url=url))
    assert payload["status"] == "delivered"
    assert "proof_of_delivery_url" not in payload
    assert payload["signed_by"] == "J. DOE"


def test_a_long_name_is_cut_to_the_contract_limit() -> None:
    payload = _scan(TrackingStatus.DELIVERED, Proof(signed_by="A" * 500))
    assert payload["signed_by"] == "A" * 100


def test_usps_names_who_signed_on_the_delivered_event_else_the_firm() -> None:
    events = [
        {
            "eventType": "Delivered, Left with Individual",
            "eventTimestamp": "2024-05-30T14:02:00",
            "GMTOffset": "-04:00",
            "eventCode": "01",
            "eventCity": "BOSTON",
            "eventState": "MA",
            "name": "R SMITH",
            "firm": "",
        },
        {
            "eventType": "Out for Delivery",
            "eventTimestamp": "2024-05-30T08:10:00",
            "GMTOffset": "-04:00",
            "eventCode": "OF",
            "eventCity": "BOSTON",
            "eventState": "MA",
            "name": "",
            "firm": "ACME CORP",
        },
    ]
    body = {"trackingNumber": "9400100000000000000000", "trackingEvents": events}
    result = parse_usps(orjson.dumps(body), {}, AT)
    assert not result.problems
    scans = {
        e.payload.status: e.payload for e in result.events if isinstance(e, TrackingCheckpointEvent)
    }
    assert scans[TrackingStatus.DELIVERED].signed_by == "R SMITH"
    assert scans[TrackingStatus.OUT_FOR_DELIVERY].signed_by is None
