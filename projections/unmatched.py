"""Unmatched scans as the agent console lists them: one row per parked tracking number. Pure.

:class:`projections.links.LinkIndex` keeps the parked scans and an index of their numbers (when
each was first and last parked, and its carrier); this module decides what a search matches,
pages through the index with a cursor that survives numbers leaving it, and sums up one number's
parked scans.

A search ``q`` matches a number that starts with it (spaces and case ignored, as tracking numbers
are normalised) or a carrier it names exactly (``ups``, ``DHL``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from projections.ordering import canonical_sequence
from wismo.events import TrackingCheckpointEvent, parse_event

_CURSOR = re.compile(r"(0|[1-9][0-9]{0,15}):(\S{1,64})")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last number listed and when it was first parked. The index is
    read newest first; ties (a batch parks many numbers in the same millisecond) go by number,
    descending, as Redis orders equal scores in reverse."""

    first_ms: int
    number: str

    def encode(self) -> str:
        return f"{self.first_ms}:{self.number}"

    def after(self, first_ms: int, number: str) -> bool:
        """Whether an entry comes after this cursor in the listing order."""
        return first_ms < self.first_ms or (first_ms == self.first_ms and number < self.number)


def decode_cursor(text: str) -> Cursor | None:
    """The cursor a previous page returned, or None when ``text`` is not one."""
    found = _CURSOR.fullmatch(text)
    return None if found is None else Cursor(int(found[1]), found[2])


def normalise_query(q: str) -> str:
    return "".join(q.split()).upper()


def matches(query: str, number: str, carrier: str | None) -> bool:
    """Whether a number (with its carrier) answers a normalised search (empty: everything)."""
    if not query:
        return True
    return number.startswith(query) or (carrier is not None and carrier.upper() == query)


@dataclass(frozen=True, slots=True)
class UnmatchedNumber:
    tracking_number: str
    carrier: str | None
    scans: int
    first_parked_at: datetime
    last_parked_at: datetime
    latest_status: str | None
    latest_scan_at: datetime | None
    sources: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "scans": self.scans,
            "first_parked_at": self.first_parked_at.isoformat(),
            "last_parked_at": self.last_parked_at.isoformat(),
            "latest_status": self.latest_status,
            "latest_scan_at": None
            if self.latest_scan_at is None
            else self.latest_scan_at.isoformat(),
            "sources": self.sources,
        }


def at_ms(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def summarise(
    number: str,
    first_ms: float,
    last_ms: float | None,
    carrier: str | None,
    held: Mapping[str, bytes],
) -> UnmatchedNumber:
    """One parked number's row, from its index entry and its parked scans (by event id)."""
    events = canonical_sequence(parse_event(raw) for raw in held.values())
    scans = [e for e in events if isinstance(e, TrackingCheckpointEvent)]
    latest = scans[-1] if scans else None
    return UnmatchedNumber(
        tracking_number=number,
        carrier=carrier,
        scans=len(events),
        first_parked_at=at_ms(first_ms),
        last_parked_at=at_ms(max(first_ms, last_ms or first_ms)),
        latest_status=None if latest is None else latest.payload.status.value,
        latest_scan_at=None if latest is None else latest.occurred_at,
        sources=sorted({e.source for e in events}),
    )


def carrier_of(raw: bytes) -> str:
    """The carrier a parked scan names (its payload's, else its source)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""  # not an event: nothing to say (the index still lists the number)
    if not isinstance(document, dict):
        return ""
    payload = document.get("payload")
    named = payload.get("carrier") if isinstance(payload, dict) else None
    return str(named or document.get("source") or "")
