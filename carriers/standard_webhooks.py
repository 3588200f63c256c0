"""The Standard Webhooks signature scheme, used by wismo's own ``oms`` / ``wms`` feeds.

Headers: ``webhook-id`` (the delivery's id, also its dedup key), ``webhook-timestamp`` (unix
seconds) and ``webhook-signature``: space-separated ``v1,<base64>`` entries, each an HMAC-SHA256
of ``"{id}.{timestamp}.{body}"``. Several entries let a sender sign with an old and a new secret
during a rotation; on our side every live secret is tried. Secrets are written ``whsec_<base64>``
(the key is the decoded bytes); a secret without that prefix is used as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from carriers.base import Headers, Problem, ProblemCode
from carriers.signatures import timestamp_fresh

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_S = 300.0
_SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    if secret.startswith(_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
        except (ValueError, binascii.Error):
            pass  # not base64 after all: use it as written, like any other secret
    return secret.encode()


def _signed_content(msg_id: str, timestamp: str, raw: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + raw


def sign(secret: str, msg_id: str, timestamp: int, raw: bytes) -> str:
    """The ``webhook-signature`` value a sender puts on ``raw`` (one ``v1`` entry)."""
    mac = hmac.new(secret_key(secret), _signed_content(msg_id, str(timestamp), raw), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def _signatures(header: str) -> list[bytes]:
    decoded = []
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error):
            continue
    return decoded


def verify(raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime) -> Problem | None:
    missing = [h for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER) if not headers.get(h)]
    if missing:
        return Problem(ProblemCode.MISSING_SIGNATURE, f"missing {', '.join(missing)} header")
    msg_id, timestamp = headers[ID_HEADER], headers[TIMESTAMP_HEADER]
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        return Problem(ProblemCode.BAD_SIGNATURE, f"{TIMESTAMP_HEADER} is not a unix timestamp")
    if not timestamp_fresh(sent_at, now, TOLERANCE_S):
        return Problem(
            ProblemCode.STALE_TIMESTAMP,
            f"{TIMESTAMP_HEADER} is more than {TOLERANCE_S:.0f} s away from now",
        )
    content = _signed_content(msg_id, timestamp, raw)
    expected = [hmac.new(secret_key(s), content, hashlib.sha256).digest() for s in secrets]
    matched = False
    for provided in _signatures(headers[SIGNATURE_HEADER]):
        for digest in expected:  # no early exit: time does not depend on which entry matched
            matched |= hmac.compare_digest(provided, digest)
    if not matched:
        return Problem(ProblemCode.BAD_SIGNATURE, f"{SIGNATURE_HEADER} does not match the body")
    return None
