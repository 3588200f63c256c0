"""Every webhook source, over the real API: unsigned, wrongly signed, tampered, replayed (old or
future signed timestamp) and re-delivered requests. A refused request is a 401 with a reason and
writes nothing; a re-delivery is acknowledged and written once.

Requests are signed the way each sender does, independently of the code under test (the
signers of the carriers' signature suite, plus UPS's and DHL's echoed credentials, Shopify's
base64 body HMAC and Standard Webhooks for Salesforce callouts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carriers import registry
from tests.api.conftest import Client, read_topic
from tests.carriers.test_signatures import SIGNERS
from tests.security.conftest import SOURCE_SECRETS
from wismo.settings import Settings
from wismo.topics import RAW, Header

CARRIER_SAMPLES = Path(__file__).parents[1] / "carriers"
Signer = Callable[[bytes, str, datetime], dict[str, str]]


def _echoed(header: str) -> Signer:
    return lambda raw, secret, at: {header: secret}


def _shopify(raw: bytes, secret: str, at: datetime) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    return {"x-shopify-hmac-sha256": base64.b64encode(digest).decode()}


#: source -> (signer, recorded payload under tests/carriers, signs a timestamp)
CASES: dict[str, tuple[Signer, str, bool]] = {
    **SIGNERS,
    "ups": (_echoed("credential"), "ups/alert_out_for_delivery.json", False),
    "dhl": (_echoed("dhl-push-token"), "dhl/express_delivered.json", False),
    "shopify": (_shopify, "shopify/fulfillment_create_two_parcels.json", False),
    "salesforce_om": (SIGNERS["oms"][0], "salesforce_om/flow_batch_fulfilled.json", True),
}
SOURCES = sorted(CASES)
TIMESTAMPED = [name for name in SOURCES if CASES[name][2]]
#: UPS and DHL echo a shared credential and sign nothing: a changed body cannot be detected
BODY_SIGNED = [name for name in SOURCES if name not in ("ups", "dhl")]
_SIGNATURE_HEADERS = {
    "webhook-signature",
    "webhook-timestamp",
    "x-shopify-hmac-sha256",
    "aftership-hmac-sha256",
    "x-hmac-signature",
    "fdx-signature",
    "x-hmac",
    "credential",
    "dhl-push-token",
}


def test_every_registered_source_is_covered() -> None:
    assert set(SOURCES) == set(registry.names())


def _request(
    source: str, *, secret: str | None = None, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    signer, sample, _ = CASES[source]
    path = CARRIER_SAMPLES / sample
    raw = path.read_bytes()
    recorded = path.with_suffix(".headers.json")
    headers = {"Content-Type": "application/json"}
    if recorded.exists():
        kept = json.loads(recorded.read_text())
        headers |= {k: v for k, v in kept.items() if k.lower() not in _SIGNATURE_HEADERS}
    signed = signer(raw, secret or SOURCE_SECRETS[source], at or datetime.now(UTC))
    return raw, headers | signed


async def _post(
    client: Client, source: str, raw: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, object]]:
    response = await client.post(f"/v1/webhooks/{source}", data=raw, headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize("source", SOURCES)
async def test_signed_delivery_is_accepted_and_a_redelivery_written_once(
    client: Client, settings: Settings, source: str
) -> None:
    raw, headers = _request(source)
    first, body = await _post(client, source, raw, headers)
    assert first == 202, body
    again, repeated = await _post(client, source, raw, headers)
    assert again == 200, repeated
    assert repeated["status"] == "duplicate"
    assert repeated["delivery_id"] == body["delivery_id"]
    (record,) = await read_topic(settings, RAW)
    assert record.value == raw
    assert dict(record.headers)[Header.SOURCE] == source.encode()


@pytest.mark.parametrize("source", SOURCES)
async def test_unsigned_request_is_refused(client: Client, settings: Settings, source: str) -> None:
    raw, headers = _request(source)
    unsigned = {k: v for k, v in headers.items() if k.lower() not in _SIGNATURE_HEADERS}
    status, body = await _post(client, source, raw, unsigned)
    assert status == 401
    assert body["error"] == "unauthorized"
    assert body["details"] == {"code": "missing_signature"}
    assert await read_topic(settings, RAW) == []


@pytest.mark.parametrize("source", SOURCES)
async def test_wrongly_signed_request_is_refused(
    client: Client, settings: Settings, source: str
) -> None:
    raw, headers = _request(source, secret="an-attacker-guess")
    status, body = await _post(client, source, raw, headers)
    assert (status, body["details"]) == (401, {"code": "bad_signature"})
    assert await read_topic(settings, RAW) == []


@pytest.mark.parametrize("source", BODY_SIGNED)
async def test_a_body_changed_after_signing_is_refused(
    client: Client, settings: Settings, source: str
) -> None:
    raw, headers = _request(source)
    tampered = raw.replace(b"}", b', "x": 1}', 1) if raw.rstrip().endswith(b"}") else raw + b" "
    status, body = await _post(client, source, tampered, headers)
    assert (status, body["details"]) == (401, {"code": "bad_signature"})
    assert await read_topic(settings, RAW) == []


@pytest.mark.parametrize("source", TIMESTAMPED)
@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-10), timedelta(hours=-6), timedelta(minutes=10)]
)
async def test_replayed_request_with_an_old_or_future_timestamp_is_refused(
    client: Client, settings: Settings, source: str, skew: timedelta
) -> None:
    raw, headers = _request(source, at=datetime.now(UTC) + skew)
    status, body = await _post(client, source, raw, headers)
    assert (status, body["details"]) == (401, {"code": "stale_timestamp"})
    assert await read_topic(settings, RAW) == []


@pytest.mark.parametrize("source", TIMESTAMPED)
async def test_a_captured_request_replayed_in_time_is_only_a_redelivery(
    client: Client, settings: Settings, source: str
) -> None:
    raw, headers = _request(source, at=datetime.now(UTC) - timedelta(minutes=1))
    answers = [(await _post(client, source, raw, headers))[0] for _ in range(3)]
    assert answers == [202, 200, 200]
    assert len(await read_topic(settings, RAW)) == 1
