"""Deterministic identifiers.

An ``event_id`` is never random: it is the source's own id when the source has one, otherwise a
hash of the source and the event's natural key. The same fact delivered twice, by a retry, a
replay or a second webhook, therefore gets the same id and is folded once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

_SEPARATOR = "\x1f"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:\-]")
MAX_ID_LENGTH = 200


def _part(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def digest(*parts: object, length: int = 32) -> str:
    """A stable hex digest of ``parts`` (``None`` and ``""`` are the same part)."""
    joined = _SEPARATOR.join(_part(p) for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:length]


def source_event_id(source: str, source_id: str) -> str:
    """The event id for a fact the source itself identifies (webhook event id, record id…)."""
    cleaned = _UNSAFE.sub("_", source_id.strip())
    candidate = f"{source}:{cleaned}"
    if cleaned and len(candidate) <= MAX_ID_LENGTH and cleaned == source_id:
        return candidate
    # ids with unusual characters or excessive length are hashed so the result stays a safe key
    return f"{source}:h{digest(source, source_id)}"


def natural_event_id(source: str, kind: str, *natural_key: object) -> str:
    """The event id for a fact the source does not identify: a hash of its natural key.

    For a tracking checkpoint the natural key is (tracking number, occurred_at, raw code,
    location), so the same scan reported twice collapses to one event.
    """
    return f"{source}:{digest(source, kind, *natural_key)}"


def email_hash(email: str) -> str:
    """The lookup form of an e-mail address: sha256 of the trimmed, lower-cased address."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def exception_id(order_id: str, exception_type: str, subject: str | None) -> str:
    """One open exception per (order, subject, type): its id is derived from exactly those."""
    return f"exc:{digest(order_id, subject, exception_type, length=24)}"
