"""What a timeline store promises, whatever holds it (Redis, ClickHouse, memory).

A store keeps, per order, the *set* of its distinct events and the timeline
:func:`projections.timeline.fold` makes of that set. :meth:`ProjectionStore.apply` is

- **idempotent**: applying events the order already holds (any subset, any duplication, any
  batch split) changes nothing and reports no change;
- **atomic per order**: an order's events, timeline and version move together or not at all;
- **convergent**: concurrent writers and replays end on ``fold`` of the union of what they saw.

Which copy of a re-delivered event is kept follows :func:`projections.ordering.dedupe`, so the
stored set does not depend on arrival order either.

:class:`TimelineStore` adds what the live path needs on top: the tracking-number and customer
lookup indexes, parked orphan scans, and the duplicate-delivery counts the agent console shows.
The tracking-number link and the parked scans have one implementation per medium,
:class:`projections.links.LinkIndex` in Redis (shared with the link agent) and
:class:`projections.memory_store.MemoryLinks`; the stores delegate to it. The Redis store also
writes the agent console's index with each commit (:mod:`projections.agent_index`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from wismo.events import Event


@dataclass(frozen=True, slots=True)
class TimelineChange:
    """One order whose timeline changed in an :meth:`~ProjectionStore.apply`.

    ``version`` is the fold's version (the number of distinct events); ``timeline`` is the
    canonical JSON of the new timeline, exactly what :func:`projections.timeline_to_json` gives.
    ``fold`` names the code that folded it (:func:`projections.fold_fingerprint.fold_fingerprint`;
    ``""``: not known, as for a timeline read back from a store): where it came from, not what
    it holds, so two changes of equal content are equal whatever their ``fold``.
    """

    order_id: str
    version: int
    digest: str
    status: str
    timeline: bytes
    fold: str = field(default="", compare=False)


@runtime_checkable
class ProjectionStore(Protocol):
    """The part of the contract every store serves: events in, timelines out."""

    async def apply(self, events: Sequence[Event]) -> list[TimelineChange]:
        """Add events to their orders and refold; one change per order whose timeline changed.

        Events should carry their ``order_id``. A tracking event without one is linked through
        a shipment in the same batch or the tracking-number index (stores that keep one); a scan
        no known shipment names is parked (see :meth:`TimelineStore.park`), never dropped.
        """
        ...

    async def timeline(self, order_id: str) -> bytes | None:
        """The order's timeline JSON, or ``None`` for an order the store has never seen."""
        ...

    async def events(self, order_id: str) -> list[Event]:
        """The order's distinct events (one copy per ``event_id``), in canonical order."""
        ...

    async def applied_ids(self, order_id: str) -> frozenset[str]:
        """The ids of the events folded into the order's timeline."""
        ...

    async def close(self) -> None:
        """Release connections (the store does not own clients it was given)."""
        ...


@runtime_checkable
class TimelineStore(ProjectionStore, Protocol):
    """The live store: timelines plus indexes, parked scans and dedup counts."""

    async def order_for_tracking(self, tracking_number: str) -> str | None:
        """The order whose shipment or return names this tracking number."""
        ...

    async def order_for_lookup(
        self, order_number: str, email: str | None = None, postcode: str | None = None
    ) -> str | None:
        """The order a customer means by its order number plus e-mail or postcode.

        Returns ``None`` unless the order number and the e-mail (compared by hash) or the
        postcode (of a delivery group or shipment destination) match the current timeline.
        """
        ...

    async def park(self, events: Sequence[Event]) -> list[Event]:
        """Park tracking events whose tracking number no known shipment names yet.

        Returns the events that turned out to be linkable after all (their ``order_id`` filled
        in): the caller applies those. Parking is idempotent by ``event_id``.
        """
        ...

    async def parked(self, tracking_number: str) -> list[Event]:
        """The scans parked under a tracking number, in canonical order (nothing removed)."""
        ...

    async def release(self, tracking_number: str) -> list[Event]:
        """Take the scans parked under a tracking number (they are removed).

        The ``order_id`` is filled in when the tracking number is linked. :meth:`apply` already
        absorbs parked scans when a shipment naming them arrives, and removes them only after
        the order's write, so a crash never loses them; ``release`` is for callers that route
        the scans themselves and then own them.
        """
        ...

    async def current(self, order_ids: Sequence[str]) -> list[TimelineChange]:
        """The stored timelines of these orders (unknown ones left out), as changes.

        For a replayed batch: :meth:`apply` reports nothing for orders already up to date, so a
        consumer that crashed after the store's write but before passing the change on can
        pass on the current state instead.
        """
        ...

    async def duplicates(self, order_id: str) -> dict[str, int]:
        """Per event id, how many re-deliveries of it were recognised and ignored."""
        ...
