"""DHL push authentication.

Neither the Unified Push API nor DHL Express signs its notifications. A push subscription names
an ``ApiKeyAuthentication`` header and token that DHL sends back with every POST; wismo's
subscriptions use the header ``dhl-push-token``, compared in constant time against every live
secret (two while subscriptions are re-created with a new token).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem, ProblemCode
from carriers.signatures import shared_secret_matches

HEADER = "dhl-push-token"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    provided = headers.get(HEADER)
    if not provided:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {HEADER} header")
    if not shared_secret_matches(secrets, provided):
        return Problem(ProblemCode.BAD_SIGNATURE, f"{HEADER} header matches no live secret")
    return None
