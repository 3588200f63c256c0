"""The Standard Webhooks signature scheme (https://www.standardwebhooks.com), used by the ``oms``,
``wms`` and ``salesforce_om`` sources.

Headers: ``webhook-id`` (the delivery's id, also its dedup key), ``webhook-timestamp`` (unix
seconds) and ``webhook-signature``: space-separated ``v1,<base64>`` entries, each an HMAC-SHA256
of ``"{id}.{timestamp}.{body}"``. Several entries let a sender sign with an old and a new secret
during a rotation; on our side every live secret is tried.

Secrets are written as the specification and its official libraries read them: ``whsec_``
followed by the base64 of the key (padding optional); the key is the decoded bytes. A key that
is a plain string shared with a sender that signs with the string's bytes is configured
explicitly as ``raw:<text>`` (the key is the UTF-8 bytes of ``<text>``). Anything else is a
malformed secret: :func:`secret_problem` says why (never quoting the secret), and
:func:`secret_key`, :func:`sign` and :func:`verify` raise :class:`SecretFormatError`.
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
SECRET_PREFIX = "whsec_"
RAW_PREFIX = "raw:"
_FORMAT = f"{SECRET_PREFIX}<base64 key>, or {RAW_PREFIX}<text> to use the text's bytes as the key"


class SecretFormatError(ValueError):
    """A configured Standard Webhooks secret that is neither ``whsec_<base64>`` nor ``raw:…``."""


def _decoded(secret: str) -> bytes | str:
    """The key of ``secret``, or why there is none."""
    if secret.startswith(RAW_PREFIX):
        text = secret[len(RAW_PREFIX) :]
        return text.encode() if text else f"nothing follows {RAW_PREFIX!r}"
    if not secret.startswith(SECRET_PREFIX):
        return f"does not start with {SECRET_PREFIX!r} (write {_FORMAT})"
    encoded = secret[len(SECRET_PREFIX) :].strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (ValueError, binascii.Error):
        return f"what follows {SECRET_PREFIX!r} is not base64 (write {_FORMAT})"
    return key if key else f"the key after {SECRET_PREFIX!r} is empty"


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is not a usable Standard Webhooks secret; ``None`` when it is."""
    decoded = _decoded(secret)
    return decoded if isinstance(decoded, str) else None


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` or ``raw:<text>`` secret."""
    decoded = _decoded(secret)
    if isinstance(decoded, str):
        raise SecretFormatError(f"Standard Webhooks secret {decoded}")
    return decoded


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
    """``None`` when an entry of ``webhook-signature`` matches under a live secret. A malformed
    secret raises :class:`SecretFormatError` (a configuration error, not the sender's)."""
    keys = [secret_key(s) for s in secrets]
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
    expected = [hmac.new(key, content, hashlib.sha256).digest() for key in keys]
    matched = False
    for provided in _signatures(headers[SIGNATURE_HEADER]):
        for digest in expected:  # no early exit: time does not depend on which entry matched
            matched |= hmac.compare_digest(provided, digest)
    if not matched:
        return Problem(ProblemCode.BAD_SIGNATURE, f"{SIGNATURE_HEADER} does not match the body")
    return None
