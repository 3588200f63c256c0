"""UPS Track Alert authentication.

A Track Alert subscription names a ``credential`` (an opaque string we choose) that UPS sends
back verbatim in the ``credential`` header of every event POST. UPS does not sign the body, so
the check is a constant-time comparison of that header with each live secret (two during a
rotation: subscriptions made before and after the change both keep working for their 14 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem, ProblemCode
from carriers.signatures import shared_secret_matches

HEADER = "credential"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    provided = headers.get(HEADER)
    if not provided:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {HEADER} header")
    if not shared_secret_matches(secrets, provided):
        return Problem(ProblemCode.BAD_SIGNATURE, f"{HEADER} header matches no live secret")
    return None
