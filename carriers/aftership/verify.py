"""AfterShip signs each webhook body: ``aftership-hmac-sha256`` is the base64 HMAC-SHA256 of the
raw body under the webhook secret shown in the AfterShip admin."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem
from carriers.signatures import header_hmac

SIGNATURE_HEADER = "aftership-hmac-sha256"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    # the body carries no signed timestamp, so there is no freshness to check (``now`` unused)
    return header_hmac(headers, SIGNATURE_HEADER, raw, secrets, encoding="base64")
