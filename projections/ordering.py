"""Turning a bag of events into the canonical sequence the fold walks.

The fold sees a *set*: duplicates collapse by ``event_id`` (deterministically, whichever copy
arrived) and the rest is sorted by ``occurred_at``, then milestone rank, then ``event_id``. Any
permutation or duplication of the same events therefore yields the same sequence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from wismo.events import (
    Event,
    EventKind,
    TrackingCheckpointEvent,
    dump_event,
    tracking_numbers_named,
)
from wismo.vocab import STATUS_RANK

_KIND_RANK = {kind: index for index, kind in enumerate(EventKind)}
_MAX = datetime.max.replace(tzinfo=None)


def milestone_rank(event: Event) -> int:
    """Order of events that happened at the same instant: by kind, then by tracking progress."""
    rank = _KIND_RANK[event.kind] * 1000
    if isinstance(event, TrackingCheckpointEvent):
        rank += 1 + STATUS_RANK[event.payload.status]
    return rank


def sort_key(event: Event) -> tuple[datetime, int, str]:
    return (event.occurred_at, milestone_rank(event), event.event_id)


def _preference(event: Event) -> tuple[bool, bool, datetime, bytes]:
    """Which copy of a re-delivered event is kept: one carrying a proof of delivery (a scan
    pushed without it, then polled with it, is one scan), then the first received, then by
    content."""
    received = event.received_at.replace(tzinfo=None) if event.received_at else _MAX
    return (not _has_proof(event), event.received_at is None, received, dump_event(event))


def _has_proof(event: Event) -> bool:
    if not isinstance(event, TrackingCheckpointEvent):
        return False
    return event.payload.signed_by is not None or event.payload.proof_of_delivery_url is not None


def dedupe(events: Iterable[Event]) -> dict[str, Event]:
    """One event per ``event_id``; the choice among copies does not depend on arrival order."""
    chosen: dict[str, Event] = {}
    for event in events:
        kept = chosen.get(event.event_id)
        if kept is None or (kept != event and _preference(event) < _preference(kept)):
            chosen[event.event_id] = event
    return chosen


def canonical_sequence(events: Iterable[Event]) -> list[Event]:
    """Deduplicated and sorted: the only input the fold ever walks."""
    return sorted(dedupe(events).values(), key=sort_key)


def set_digest(event_ids: Iterable[str]) -> str:
    """A short fingerprint of a set of event ids (same set, same digest)."""
    h = hashlib.sha256()
    for event_id in sorted(event_ids):
        h.update(event_id.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def group_by_order(events: Iterable[Event]) -> tuple[dict[str, list[Event]], list[Event]]:
    """Split events by order, linking tracking events to the order whose shipment names them.

    Returns the events per order and the tracking events no known shipment or return names
    (they stay parked until a shipment names their tracking number).
    """
    materialised = list(events)
    owner_of_tracking: dict[str, str] = {}
    for event in materialised:
        if event.order_id is not None:
            for number in tracking_numbers_named(event):
                owner_of_tracking.setdefault(number, event.order_id)
    by_order: dict[str, list[Event]] = {}
    unlinked: list[Event] = []
    for event in materialised:
        order_id = event.order_id
        if order_id is None and event.tracking_number is not None:
            order_id = owner_of_tracking.get(event.tracking_number)
        if order_id is None:
            unlinked.append(event)
        else:
            by_order.setdefault(order_id, []).append(event)
    return by_order, unlinked
