"""FedEx tracking webhook authentication.

FedEx signs every webhook POST with the project's security token: ``fdx-signature`` carries the
HMAC-SHA256 of the raw body. The digest is accepted hex- or base64-encoded (an optional
``sha256=`` prefix is ignored), compared in constant time against every live token, so a token
rotated in the FedEx Developer Portal keeps working while both are configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem, ProblemCode
from carriers.signatures import hmac_matches

HEADER = "fdx-signature"
_PREFIX = "sha256="


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    provided = headers.get(HEADER, "").strip()
    if not provided:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {HEADER} header")
    signature = provided.removeprefix(_PREFIX)
    if hmac_matches(secrets, raw, signature, encoding="hex") or hmac_matches(
        secrets, raw, signature, encoding="base64"
    ):
        return None
    return Problem(ProblemCode.BAD_SIGNATURE, f"{HEADER} does not match the body")
