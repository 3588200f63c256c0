"""DHL push authentication.

Neither the Unified Push API nor DHL Express signs its notifications. A push subscription names
an ``ApiKeyAuthentication`` header and token that DHL sends back with every POST; wismo's
subscriptions use the header ``dhl-push-token``, compared in constant time against every live
secret (two while subscriptions are re-created with a new token).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem
from carriers.signatures import header_secret

HEADER = "dhl-push-token"


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    return header_secret(headers, HEADER, secrets)
