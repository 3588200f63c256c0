"""FedEx webhooks: ``fdx-signature`` is the HMAC-SHA256 of the raw body under the security
token (hex or base64)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carriers.base import ProblemCode
from carriers.registry import get

BODY = (Path(__file__).parent / "fedex" / "webhook_push.json").read_bytes()
NOW = datetime(2024, 8, 12, 14, 26, tzinfo=UTC)
FEDEX = get("fedex")


def _digest(secret: str, body: bytes = BODY) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


@pytest.mark.parametrize(
    "signature",
    [
        _digest("token-1").hex(),
        base64.b64encode(_digest("token-1")).decode(),
        "sha256=" + _digest("token-1").hex(),
    ],
    ids=["hex", "base64", "prefixed"],
)
def test_a_signature_of_the_body_is_accepted(signature: str) -> None:
    assert FEDEX.verify(BODY, {"fdx-signature": signature}, ["token-1"], NOW) is None


def test_a_signature_under_another_token_is_rejected() -> None:
    headers = {"fdx-signature": _digest("someone-else").hex()}
    problem = FEDEX.verify(BODY, headers, ["token-1"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_a_tampered_body_is_rejected() -> None:
    headers = {"fdx-signature": _digest("token-1").hex()}
    problem = FEDEX.verify(BODY.replace(b"ORLANDO", b"ATLANTA"), headers, ["token-1"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_a_missing_signature_is_reported_as_missing() -> None:
    problem = FEDEX.verify(BODY, {}, ["token-1"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.MISSING_SIGNATURE


def test_garbage_signature_is_rejected() -> None:
    problem = FEDEX.verify(BODY, {"fdx-signature": "not a digest!"}, ["token-1"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_both_tokens_work_during_a_rotation() -> None:
    live = ["token-old", "token-new"]
    for token in live:
        assert FEDEX.verify(BODY, {"fdx-signature": _digest(token).hex()}, live, NOW) is None
    retired = FEDEX.verify(BODY, {"fdx-signature": _digest("token-old").hex()}, ["token-new"], NOW)
    assert retired is not None
    assert retired.code is ProblemCode.BAD_SIGNATURE
