"""Signature checks of the webhook sources: valid, wrong, missing, stale and rotated secrets.

Each case signs a recorded payload the way the real sender does (independently of the code
under test: AfterShip base64 HMAC of the body, EasyPost hex HMAC under the NFKD-normalised
secret, Standard Webhooks ``v1`` entries over ``id.timestamp.body``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carriers.base import Problem, ProblemCode
from carriers.registry import get

HERE = Path(__file__).parent
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
OLD_SECRET = "old-secret-Ω-ﬁ"  # non-ASCII on purpose: NFKD changes "ﬁ" to "fi"
NEW_SECRET = "new-secret-2024"

Signer = Callable[[bytes, str, datetime], dict[str, str]]


def _aftership(raw: bytes, secret: str, at: datetime) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    return {"aftership-hmac-sha256": base64.b64encode(digest).decode()}


def _easypost(raw: bytes, secret: str, at: datetime) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    return {"x-hmac-signature": "hmac-sha256-hex=" + hmac.new(key, raw, hashlib.sha256).hexdigest()}


def _standard(raw: bytes, secret: str, at: datetime) -> dict[str, str]:
    msg_id, timestamp = "msg_2fYbC9xQ1sig0001", str(int(at.timestamp()))
    # the spec's secret is whsec_ + base64 of the key; any other string (a forger's guess) signs
    # with its bytes
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.removeprefix("raw:").encode()
    )
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def _fedex(raw: bytes, secret: str, at: datetime) -> dict[str, str]:
    return {"fdx-signature": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


def _usps(raw: bytes, secret: str, at: datetime) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    return {"x-hmac": base64.b64encode(digest).decode()}


SIGNERS: dict[str, tuple[Signer, str, bool]] = {
    # source: (signer, recorded payload, whether the scheme carries a signed timestamp)
    "aftership": (_aftership, "aftership/delivered.json", False),
    "easypost": (_easypost, "easypost/delivered.json", False),
    "fedex": (_fedex, "fedex/delivered.json", False),
    "usps": (_usps, "usps/in_transit_expected.json", False),
    "oms": (_standard, "oms/order_placed.json", True),
    "wms": (_standard, "wms/fulfilment_created.json", True),
}
SOURCES = sorted(SIGNERS)


def _secret(source: str, text: str) -> str:
    """``text`` as the source's secret is configured: Standard Webhooks keys are whsec_ + base64."""
    if SIGNERS[source][0] is _standard:
        return "whsec_" + base64.b64encode(text.encode()).decode()
    return text


def _code(problem: Problem | None) -> ProblemCode | None:
    return None if problem is None else problem.code


def _payload(source: str) -> bytes:
    return (HERE / SIGNERS[source][1]).read_bytes()


@pytest.mark.parametrize("source", SOURCES)
def test_valid_signature_is_accepted(source: str) -> None:
    raw = _payload(source)
    headers = SIGNERS[source][0](raw, _secret(source, NEW_SECRET), NOW)
    assert get(source).verify(raw, headers, [_secret(source, NEW_SECRET)], NOW) is None


@pytest.mark.parametrize("source", SOURCES)
def test_signature_under_another_secret_is_rejected(source: str) -> None:
    raw = _payload(source)
    headers = SIGNERS[source][0](raw, _secret(source, "attacker-secret"), NOW)
    problem = get(source).verify(raw, headers, [_secret(source, NEW_SECRET)], NOW)
    assert _code(problem) is ProblemCode.BAD_SIGNATURE


@pytest.mark.parametrize("source", SOURCES)
def test_tampered_body_is_rejected(source: str) -> None:
    raw = _payload(source)
    headers = SIGNERS[source][0](raw, _secret(source, NEW_SECRET), NOW)
    tampered = raw.replace(b"2024", b"2025", 1)
    problem = get(source).verify(tampered, headers, [_secret(source, NEW_SECRET)], NOW)
    assert _code(problem) is ProblemCode.BAD_SIGNATURE


@pytest.mark.parametrize("source", SOURCES)
def test_missing_signature_is_reported_as_missing(source: str) -> None:
    problem = get(source).verify(_payload(source), {}, [_secret(source, NEW_SECRET)], NOW)
    assert _code(problem) is ProblemCode.MISSING_SIGNATURE


@pytest.mark.parametrize("source", SOURCES)
def test_garbage_signature_is_rejected(source: str) -> None:
    raw = _payload(source)
    headers = dict.fromkeys(
        SIGNERS[source][0](raw, _secret(source, NEW_SECRET), NOW), "%%%not-a-signature%%%"
    )
    if SIGNERS[source][2]:
        headers["webhook-timestamp"] = str(int(NOW.timestamp()))
    problem = get(source).verify(raw, headers, [_secret(source, NEW_SECRET)], NOW)
    assert _code(problem) is ProblemCode.BAD_SIGNATURE


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("signed_with", [OLD_SECRET, NEW_SECRET])
def test_either_live_secret_is_accepted_during_rotation(source: str, signed_with: str) -> None:
    raw = _payload(source)
    headers = SIGNERS[source][0](raw, _secret(source, signed_with), NOW)
    assert (
        get(source).verify(
            raw, headers, [_secret(source, OLD_SECRET), _secret(source, NEW_SECRET)], NOW
        )
        is None
    )
    other = NEW_SECRET if signed_with == OLD_SECRET else OLD_SECRET
    retired = get(source).verify(raw, headers, [_secret(source, other)], NOW)
    assert _code(retired) is ProblemCode.BAD_SIGNATURE


@pytest.mark.parametrize("source", [s for s in SOURCES if SIGNERS[s][2]])
@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_rejected(source: str, skew: timedelta) -> None:
    raw = _payload(source)
    headers = SIGNERS[source][0](raw, _secret(source, NEW_SECRET), NOW + skew)
    problem = get(source).verify(raw, headers, [_secret(source, NEW_SECRET)], NOW)
    assert _code(problem) is ProblemCode.STALE_TIMESTAMP


@pytest.mark.parametrize("source", [s for s in SOURCES if SIGNERS[s][2]])
def test_timestamp_within_five_minutes_is_accepted(source: str) -> None:
    raw = _payload(source)
    headers = SIGNERS[source][0](
        raw, _secret(source, NEW_SECRET), NOW - timedelta(minutes=4, seconds=59)
    )
    assert get(source).verify(raw, headers, [_secret(source, NEW_SECRET)], NOW) is None


def test_standard_webhooks_whsec_secret_and_several_signature_entries() -> None:
    raw = _payload("oms")
    secret = "whsec_" + base64.b64encode(b"\x00\x01binary-key\xff").decode()
    signed = _standard(raw, secret, NOW)
    other = _standard(raw, _secret("oms", "some-other-secret"), NOW)["webhook-signature"]
    headers = {**signed, "webhook-signature": f"v2,ignored {other} {signed['webhook-signature']}"}
    assert get("oms").verify(raw, headers, [secret], NOW) is None
    headers["webhook-signature"] = f"v1a,{signed['webhook-signature'][3:]}"
    problem = get("oms").verify(raw, headers, [secret], NOW)
    assert _code(problem) is ProblemCode.BAD_SIGNATURE


def test_standard_webhooks_timestamp_must_be_a_number() -> None:
    raw = _payload("wms")
    secret = _secret("wms", NEW_SECRET)
    headers = {**_standard(raw, secret, NOW), "webhook-timestamp": "yesterday"}
    problem = get("wms").verify(raw, headers, [secret], NOW)
    assert _code(problem) is ProblemCode.BAD_SIGNATURE


def test_standard_webhooks_names_the_missing_headers() -> None:
    raw = _payload("oms")
    secret = _secret("oms", NEW_SECRET)
    headers = _standard(raw, secret, NOW)
    del headers["webhook-timestamp"]
    problem = get("oms").verify(raw, headers, [secret], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.MISSING_SIGNATURE
    assert "webhook-timestamp" in problem.message
