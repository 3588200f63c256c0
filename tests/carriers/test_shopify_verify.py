"""Shopify webhook signatures: base64 HMAC-SHA256 of the raw body under the app secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.base import ProblemCode
from carriers.registry import get

NOW = datetime(2024, 6, 1, tzinfo=UTC)
BODY = (Path(__file__).parent / "shopify" / "order_create.json").read_bytes()
SECRET = "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"
ROTATED = "shpss_new_0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def _sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _verify(body: bytes, signature: str | None, secrets: list[str]) -> ProblemCode | None:
    headers = {"x-shopify-topic": "orders/create"}
    if signature is not None:
        headers["x-shopify-hmac-sha256"] = signature
    problem = get("shopify").verify(body, headers, secrets, NOW)
    return problem.code if problem else None


def test_a_body_signed_with_the_app_secret_is_authentic() -> None:
    assert _verify(BODY, _sign(BODY, SECRET), [SECRET]) is None


def test_either_secret_is_accepted_during_a_rotation() -> None:
    assert _verify(BODY, _sign(BODY, SECRET), [ROTATED, SECRET]) is None
    assert _verify(BODY, _sign(BODY, ROTATED), [ROTATED, SECRET]) is None


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        (None, ProblemCode.MISSING_SIGNATURE),
        ("", ProblemCode.MISSING_SIGNATURE),
        ("not base64 at all!", ProblemCode.BAD_SIGNATURE),
        (_sign(BODY, "someone-elses-secret"), ProblemCode.BAD_SIGNATURE),
        # Shopify's digest is base64, never hex: a hex digest of the right HMAC is refused
        (hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(), ProblemCode.BAD_SIGNATURE),
    ],
)
def test_unsigned_or_wrongly_signed_bodies_are_refused(
    signature: str | None, code: ProblemCode
) -> None:
    assert _verify(BODY, signature, [SECRET]) is code


@given(flip=st.integers(min_value=0, max_value=len(BODY) - 1))
def test_any_changed_byte_breaks_the_signature(flip: int) -> None:
    tampered = bytearray(BODY)
    tampered[flip] ^= 0x01
    assert _verify(bytes(tampered), _sign(BODY, SECRET), [SECRET]) is ProblemCode.BAD_SIGNATURE
