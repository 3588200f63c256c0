"""USPS subscriptions: ``X-HMAC`` is the HMAC-SHA256 of the raw body under the subscription
secret (base64 or hex)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carriers.base import ProblemCode
from carriers.registry import get

BODY = (Path(__file__).parent / "usps" / "in_transit_expected.json").read_bytes()
NOW = datetime(2024, 3, 13, 5, tzinfo=UTC)
USPS = get("usps")
SECRET = "0123456789abcdef0123456789abcdef"  # USPS subscription secrets are 32 characters


def _digest(secret: str, body: bytes = BODY) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


@pytest.mark.parametrize("encode", [lambda d: base64.b64encode(d).decode(), bytes.hex])
def test_a_signature_of_the_body_is_accepted(encode: object) -> None:
    signature = encode(_digest(SECRET))  # type: ignore[operator]
    assert USPS.verify(BODY, {"x-hmac": signature}, [SECRET], NOW) is None


def test_a_wrong_signature_is_rejected() -> None:
    headers = {"x-hmac": base64.b64encode(_digest("f" * 32)).decode()}
    problem = USPS.verify(BODY, headers, [SECRET], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_a_tampered_body_is_rejected() -> None:
    headers = {"x-hmac": base64.b64encode(_digest(SECRET)).decode()}
    problem = USPS.verify(BODY + b" ", headers, [SECRET], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_a_missing_signature_is_reported_as_missing() -> None:
    problem = USPS.verify(BODY, {"x-hmac": "  "}, [SECRET], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.MISSING_SIGNATURE


def test_both_secrets_work_during_a_rotation() -> None:
    new = "fedcba9876543210fedcba9876543210"
    for secret in (SECRET, new):
        headers = {"x-hmac": base64.b64encode(_digest(secret)).decode()}
        assert USPS.verify(BODY, headers, [SECRET, new], NOW) is None
    headers = {"x-hmac": base64.b64encode(_digest(SECRET)).decode()}
    retired = USPS.verify(BODY, headers, [new], NOW)
    assert retired is not None
    assert retired.code is ProblemCode.BAD_SIGNATURE
