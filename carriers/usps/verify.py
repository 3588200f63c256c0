"""USPS tracking subscription authentication.

A Subscriptions - Tracking v3 subscription may carry a secret; USPS then signs each notification
with it: ``X-HMAC`` holds the HMAC-SHA256 of the raw body. The digest is accepted base64- or
hex-encoded and compared in constant time against every live secret (two while a subscription is
re-created with a new one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem, ProblemCode
from carriers.signatures import hmac_matches

HEADER = "x-hmac"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    provided = headers.get(HEADER, "").strip()
    if not provided:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {HEADER} header")
    if hmac_matches(secrets, raw, provided, encoding="base64") or hmac_matches(
        secrets, raw, provided, encoding="hex"
    ):
        return None
    return Problem(ProblemCode.BAD_SIGNATURE, f"{HEADER} does not match the body")
