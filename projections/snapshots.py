"""An order as the ClickHouse log holds it, for a rebuild: its logged events and, when there is
one the running code could have written, its latest timeline snapshot.

A snapshot stands in for a refold when it names the running fold
(:func:`projections.fold_fingerprint.fold_fingerprint`, checked by the query that reads it) and
its digest and version are those of the order's distinct logged event ids (:func:`covers`): the
fold is a function of the set of events (the order-independence property the fold's tests
prove), and each copy of an event is chosen the same way by every store
(:func:`projections.ordering.dedupe`), so such a snapshot is the document a refold would give.
:mod:`projections.rebuild` still refolds a sample of them to check (its verification pass).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from projections.merge import with_order
from projections.ordering import dedupe, set_digest
from wismo.events import dump_event, parse_event


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One logged copy of an event, as the rebuild reads it."""

    event_id: str
    document: bytes
    """Its canonical JSON (:func:`wismo.events.dump_event`)."""
    linked: bool
    """Logged with its order id (else a scan logged before its shipment named its number)."""
    links: tuple[str, ...] = ()
    """The tracking numbers it attaches to its order
    (:func:`wismo.events.tracking_numbers_named`)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest timeline ClickHouse holds for an order, written by the running fold."""

    version: int
    digest: str
    status: str
    document: bytes


@dataclass(slots=True)
class OrderSource:
    """Whole order: every logged copy of its events (scans through the shipment naming them)
    and its usable snapshot, if any."""

    order_id: str
    events: list[LoggedEvent] = field(default_factory=list)
    snapshot: Snapshot | None = None

    @property
    def documents(self) -> list[bytes]:
        return [e.document for e in self.events]


def covers(source: OrderSource) -> bool:
    """Whether the order's snapshot was folded from exactly its logged events."""
    snapshot = source.snapshot
    if snapshot is None:
        return False
    ids = {e.event_id for e in source.events}
    return snapshot.version == len(ids) and snapshot.digest == set_digest(ids)


def stored_copies(source: OrderSource) -> tuple[dict[str, bytes], Counter[str]]:
    """What Redis keeps of the order's events, as a refold's merge would choose it: per event id
    the preferred copy's JSON, linked to the order (parsed only where there is a choice or a
    link to add; a single linked copy is kept as logged), and the copies that added nothing."""
    copies: dict[str, list[LoggedEvent]] = {}
    for event in source.events:
        copies.setdefault(event.event_id, []).append(event)
    kept: dict[str, bytes] = {}
    duplicates: Counter[str] = Counter()
    for event_id, logged in copies.items():
        if len(logged) == 1:
            one = logged[0]
            copy = one.document if one.linked else linked_copy(one, source.order_id)
            if copy is not None:
                kept[event_id] = copy
                continue
        parsed = [with_order(parse_event(e.document), source.order_id) for e in logged]
        kept[event_id] = dump_event(dedupe(parsed)[event_id])
        if len(logged) > 1:
            duplicates[event_id] = len(logged) - 1
    return kept, duplicates


#: an order id written in JSON as it is (printable ASCII, nothing to escape)
_PLAIN = re.compile(r"[ !#-\[\]-~]+")


def linked_copy(event: LoggedEvent, order_id: str) -> bytes | None:
    """The canonical JSON of a scan logged before it was linked, now linked to ``order_id``,
    written without parsing it: ``order_id`` is the envelope's third field, after ``event_id``
    and ``source``, whose values need no escaping (their patterns in :mod:`wismo.events`).
    None when the document or the order id is not of that plain shape (then it is parsed)."""
    if not _PLAIN.fullmatch(order_id):
        return None
    head = f'{{"event_id":"{event.event_id}","source":"'.encode()
    document = event.document
    end = document.find(b'"', len(head))
    if not document.startswith(head) or end < 0 or document.startswith(b'","order_id":', end):
        return None  # not of the plain shape, or linked after all
    return b'%s,"order_id":"%s"%s' % (document[: end + 1], order_id.encode(), document[end + 1 :])


def named_numbers(source: OrderSource) -> list[str]:
    """The tracking numbers the order's events name, once each, in the order they were logged."""
    return list(dict.fromkeys(n for event in source.events for n in event.links))
