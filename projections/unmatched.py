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

from projections.exception_flow import AGENT_SOURCE
from projections.ordering import canonical_sequence
from wismo.events import Event, EventKind, TrackingCheckpointEvent, event_from_dict, parse_event
from wismo.ids import natural_event_id
from wismo.payloads import ShipmentLinked

#: when the last number listed was first parked (ms), and that number in hex of its UTF-8
#: (any number, in a form a query string and a JSON Schema pattern both keep as it is)
CURSOR_PATTERN = r"(0|[1-9][0-9]{0,15})-((?:[0-9a-f]{2}){1,256})"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last number listed and when it was first parked. The index is
    read newest first; ties (a batch parks many numbers in the same millisecond) go by number,
    descending, as Redis orders equal scores in reverse."""

    first_ms: int
    number: str

    def encode(self) -> str:
        return f"{self.first_ms}-{self.number.encode().hex()}"

    def after(self, first_ms: int, number: str) -> bool:
        """Whether an entry comes after this cursor in the listing order."""
        return first_ms < self.first_ms or (first_ms == self.first_ms and number < self.number)


def decode_cursor(text: str) -> Cursor | None:
    """The cursor a previous page returned, or None when ``text`` is not one."""
    found = _CURSOR.fullmatch(text)
    if found is None:
        return None
    return Cursor(int(found[1]), bytes.fromhex(found[2]).decode("utf-8", "replace"))


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


def link_by_hand(
    order_id: str,
    tracking_number: str,
    *,
    by: str,
    carrier: str | None,
    note: str | None,
    idempotency_key: str | None,
    now: datetime,
) -> Event:
    """An agent's ``shipment.linked``: the number's scans belong to ``order_id``.

    The id is a hash of the link, the agent and the client's idempotency key (else the request's
    content), so a double click or a retried request is one event. Raises ``ValidationError``
    for a payload the contract refuses (a tracking number too short, a blank carrier…).
    """
    kind = EventKind.SHIPMENT_LINKED.value
    given: dict[str, Any] = {"tracking_number": tracking_number, "by": by}
    given |= {name: value for name, value in (("carrier", carrier), ("note", note)) if value}
    payload = ShipmentLinked.model_validate(given)
    number = payload.tracking_number  # as the contract normalises it
    said = ("key", idempotency_key) if idempotency_key else ("content", carrier, note)
    return event_from_dict(
        {
            "event_id": natural_event_id(AGENT_SOURCE, kind, order_id, number, by, *said),
            "source": AGENT_SOURCE,
            "kind": kind,
            "order_id": order_id,
            "tracking_number": number,
            "occurred_at": now.isoformat(),
            "received_at": now.isoformat(),
            "payload": payload.model_dump(mode="json", exclude_none=True),
        }
    )
