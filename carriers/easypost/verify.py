"""EasyPost signs each webhook body when the webhook has a ``webhook_secret``:
``X-Hmac-Signature: hmac-sha256-hex=<hex>`` is the HMAC-SHA256 of the raw body, keyed by the
secret after Unicode NFKD normalisation (as EasyPost's own client libraries compute it)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem
from carriers.signatures import header_hmac

SIGNATURE_HEADER = "x-hmac-signature"
PREFIX = "hmac-sha256-hex="


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    # no signed timestamp in the scheme, so ``now`` has nothing to check
    keys = [unicodedata.normalize("NFKD", secret) for secret in secrets]
    return header_hmac(headers, SIGNATURE_HEADER, raw, keys, encoding="hex", prefix=PREFIX)
