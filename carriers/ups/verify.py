"""UPS Track Alert authentication.

A Track Alert subscription names a ``credential`` (an opaque string we choose) that UPS sends
back verbatim in the ``credential`` header of every event POST. UPS does not sign the body, so
the check is a constant-time comparison of that header with each live secret (two during a
rotation: subscriptions made before and after the change both keep working for their 14 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem
from carriers.signatures import header_secret

HEADER = "credential"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    return header_secret(headers, HEADER, secrets)
