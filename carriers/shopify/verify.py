"""Shopify signs every webhook: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw
body under the app's client secret (a store-created webhook: the secret shown under
Settings → Notifications → Webhooks). During a secret rotation both secrets are configured.

The body carries no signed timestamp, so there is no freshness to check: replays are absorbed
by the delivery id and by deterministic event ids instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem
from carriers.signatures import header_hmac

SIGNATURE_HEADER = "x-shopify-hmac-sha256"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    return header_hmac(headers, SIGNATURE_HEADER, raw, secrets, encoding="base64")
