"""Signed Salesforce callouts: the HMAC the documented Apex computes is accepted, within the
freshness window, under any live secret; anything else is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carriers.base import ProblemCode
from carriers.registry import get
from carriers.standard_webhooks import SecretFormatError

BODY = (Path(__file__).parent / "salesforce_om" / "shipment_created.json").read_bytes()
SENT_AT = datetime(2024, 5, 2, 17, 5, 50, tzinfo=UTC)
# what Named Credential / Custom Metadata would hold: "whsec_" + base64 of 32 random bytes
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
ROTATED = "whsec_" + base64.b64encode(bytes(range(32, 64))).decode()


def _apex_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """What docs/integrations.md's Apex computes:
    Crypto.generateMac('hmacSHA256', Blob.valueOf(id + '.' + ts + '.' + body),
    EncodingUtil.base64Decode(secret.removeStart('whsec_')))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _headers(signature: str, timestamp: int = int(SENT_AT.timestamp())) -> dict[str, str]:
    return {
        "webhook-id": "0OB5g000000HxD2GAK-1714669544000",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def _verify(
    headers: dict[str, str], secrets: list[str], now: datetime = SENT_AT
) -> ProblemCode | None:
    problem = get("salesforce_om").verify(BODY, headers, secrets, now)
    return problem.code if problem else None


def _signed(secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    ts = int(SENT_AT.timestamp())
    return _headers(_apex_signature(secret, "0OB5g000000HxD2GAK-1714669544000", ts, body), ts)


def test_the_apex_signature_is_accepted() -> None:
    assert _verify(_signed(), [SECRET]) is None
    assert _verify(_signed(), [SECRET], SENT_AT + timedelta(minutes=4)) is None


def test_both_secrets_work_during_a_rotation() -> None:
    assert _verify(_signed(ROTATED), [SECRET, ROTATED]) is None
    assert _verify(_signed(SECRET), [SECRET, ROTATED]) is None


def test_a_replay_outside_the_freshness_window_is_refused() -> None:
    assert (
        _verify(_signed(), [SECRET], SENT_AT + timedelta(minutes=6)) is ProblemCode.STALE_TIMESTAMP
    )
    assert (
        _verify(_signed(), [SECRET], SENT_AT - timedelta(minutes=6)) is ProblemCode.STALE_TIMESTAMP
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, ProblemCode.MISSING_SIGNATURE),
        (_headers("v1,AAAA"), ProblemCode.BAD_SIGNATURE),
        ({**_signed(), "webhook-timestamp": "yesterday"}, ProblemCode.BAD_SIGNATURE),
        ({**_signed(), "webhook-id": "another-delivery"}, ProblemCode.BAD_SIGNATURE),
        (_signed(body=BODY.replace(b"UPS", b"DHL")), ProblemCode.BAD_SIGNATURE),
    ],
)
def test_missing_or_wrong_signatures_are_refused(
    headers: dict[str, str], code: ProblemCode
) -> None:
    assert _verify(headers, [SECRET]) is code


def test_a_raw_secret_is_used_as_its_bytes() -> None:
    """A plain shared string is configured explicitly as ``raw:<text>``."""
    plain = "a-shared-secret-from-custom-metadata"
    ts = int(SENT_AT.timestamp())
    signed = f"m1.{ts}.".encode() + BODY
    digest = hmac.new(plain.encode(), signed, hashlib.sha256).digest()
    headers = {
        "webhook-id": "m1",
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
    assert _verify(headers, ["raw:" + plain]) is None
    assert _verify(headers, [SECRET]) is ProblemCode.BAD_SIGNATURE


@pytest.mark.parametrize(
    "secret", ["a-shared-secret-from-custom-metadata", "whsec_not base64!", "whsec_", "raw:"]
)
def test_a_malformed_secret_is_a_configuration_error(secret: str) -> None:
    source = get("salesforce_om")
    reason = source.secret_problem(secret)
    assert reason is not None
    quoted = secret.removeprefix("whsec_").removeprefix("raw:")
    assert not quoted or quoted not in reason  # the reason never repeats the secret
    with pytest.raises(SecretFormatError, match="Standard Webhooks secret"):
        source.verify(BODY, _signed(), [SECRET, secret], SENT_AT)
