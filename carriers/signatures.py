"""Signature helpers shared by sources: HMAC over the raw body, constant-time, several secrets.

Every check accepts a sequence of live secrets so a secret can be rotated without downtime: the
sender switches to the new secret while both are configured.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from datetime import datetime

from carriers.base import Headers, Problem, ProblemCode


def hmac_digest(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), message, algorithm).digest()


def _decode(signature: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(signature.strip())
        return base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None


def hmac_matches(
    secrets: Sequence[str],
    message: bytes,
    signature: str,
    *,
    encoding: str = "hex",
    algorithm: str = "sha256",
) -> bool:
    """Whether ``signature`` (hex or base64) is the HMAC of ``message`` under any live secret."""
    provided = _decode(signature, encoding)
    if provided is None:
        return False
    matched = False
    for secret in secrets:  # no early exit: time does not depend on which secret matched
        matched |= hmac.compare_digest(provided, hmac_digest(secret, message, algorithm))
    return matched


def shared_secret_matches(secrets: Sequence[str], provided: str) -> bool:
    """For push APIs that only send a shared secret/token in a header."""
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(provided.encode(), secret.encode())
    return matched


def header_hmac(
    headers: Headers,
    header: str,
    raw: bytes,
    secrets: Sequence[str],
    *,
    encoding: str = "hex",
    prefix: str = "",
) -> Problem | None:
    """Verify ``header`` carrying ``prefix`` + HMAC-SHA256 of the raw body."""
    value = headers.get(header)
    if not value:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {header} header")
    if prefix and not value.startswith(prefix):
        return Problem(ProblemCode.BAD_SIGNATURE, f"{header} must start with {prefix!r}")
    if not hmac_matches(secrets, raw, value[len(prefix) :], encoding=encoding):
        return Problem(ProblemCode.BAD_SIGNATURE, f"{header} does not match the body")
    return None


def timestamp_fresh(sent_at: datetime, now: datetime, tolerance_s: float = 300.0) -> bool:
    """Replay protection: the signed timestamp is within ``tolerance_s`` of now."""
    return abs((now - sent_at).total_seconds()) <= tolerance_s


def header_secret(headers: Headers, header: str, secrets: Sequence[str]) -> Problem | None:
    """Verify a push API that sends a configured shared secret in ``header`` (no body HMAC)."""
    provided = headers.get(header)
    if not provided:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {header} header")
    if not shared_secret_matches(secrets, provided):
        return Problem(ProblemCode.BAD_SIGNATURE, f"{header} header matches no live secret")
    return None
