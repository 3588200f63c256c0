"""An in-process :class:`~projections.store.TimelineStore`: the reference for unit tests.

It runs the same plan (:mod:`projections.merge`) and fold as the Redis store and is checked by
the same contract suite; the stream's unit tests can use it where no Redis is wanted. Its parts
mirror the Redis store's: :class:`MemoryLinks` answers like :class:`projections.links.LinkIndex`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import orjson

from projections.fold_fingerprint import fold_fingerprint
from projections.links import named_numbers
from projections.lookup import document_matches, lookup_key, query_tokens, timeline_tokens
from projections.merge import merge, with_order
from projections.ordering import canonical_sequence, group_by_order
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from wismo.events import Event


class MemoryLinks:
    """The tracking-number link and parked scans in memory, answering as
    :class:`~projections.links.LinkIndex` does."""

    def __init__(self) -> None:
        self._orders: dict[str, str] = {}
        self._parked: dict[str, dict[str, Event]] = {}

    def link(self, links: Mapping[str, str]) -> dict[str, dict[str, Event]]:
        """Store links, then hand back what is parked under those numbers (still parked)."""
        self._orders.update(links)
        return {n: dict(self._parked[n]) for n in links if self._parked.get(n)}

    def forget(self, released: Mapping[str, Iterable[str]]) -> None:
        for number, ids in released.items():
            held = self._parked.get(number, {})
            for event_id in ids:
                held.pop(event_id, None)
            if not held:
                self._parked.pop(number, None)

    def park(self, events: Sequence[Event]) -> list[Event]:
        linked = []
        for event in events:
            number = event.tracking_number
            order_id = self._orders.get(number or "")
            if order_id is not None:
                linked.append(with_order(event, order_id))
            elif number is not None:
                self._parked.setdefault(number, {}).setdefault(event.event_id, event)
        return linked

    def release(self, tracking_number: str) -> list[Event]:
        taken = canonical_sequence(self._parked.pop(tracking_number, {}).values())
        order_id = self._orders.get(tracking_number)
        return [with_order(e, order_id) for e in taken] if order_id else taken

    def order_for(self, tracking_number: str) -> str | None:
        return self._orders.get(tracking_number)

    def parked(self, tracking_number: str) -> list[Event]:
        return canonical_sequence(self._parked.get(tracking_number, {}).values())


class MemoryTimelineStore:
    def __init__(self) -> None:
        self._events: dict[str, dict[str, Event]] = {}
        self._timelines: dict[str, bytes] = {}
        self._changes: dict[str, TimelineChange] = {}
        self._duplicates: dict[str, Counter[str]] = {}
        self._lookup: dict[str, str] = {}
        self.links = MemoryLinks()

    async def apply(self, events: Sequence[Event]) -> list[TimelineChange]:
        by_order, unlinked = group_by_order(events)
        for event in self.links.park(unlinked):
            by_order.setdefault(event.order_id or "", []).append(event)
        changes = []
        for order_id, incoming in by_order.items():
            change = self._apply_order(order_id, incoming)
            if change is not None:
                changes.append(change)
        return changes

    def _apply_order(self, order_id: str, incoming: list[Event]) -> TimelineChange | None:
        held = self.links.link(dict.fromkeys(named_numbers(incoming), order_id))
        released = [e for scans in held.values() for e in scans.values()]
        linked = [with_order(e, order_id) for e in [*incoming, *released]]
        plan = merge(order_id, self._events.get(order_id, {}), linked)
        self._duplicates.setdefault(order_id, Counter()).update(plan.duplicates)
        self.links.forget({number: list(scans) for number, scans in held.items()})
        if not plan.writes:
            return None
        self._events.setdefault(order_id, {}).update(plan.writes)
        timeline = fold(self._events[order_id].values(), order_id)
        document = timeline_to_json(timeline)
        if document == self._timelines.get(order_id):
            return None
        self._timelines[order_id] = document
        self._changes[order_id] = change = TimelineChange(
            order_id,
            timeline.version,
            timeline.digest,
            timeline.status.value,
            document,
            fold_fingerprint(),
        )
        if timeline.order_number:
            for token in timeline_tokens(timeline):
                self._lookup[lookup_key(timeline.order_number, token)] = order_id
        return change

    async def timeline(self, order_id: str) -> bytes | None:
        return self._timelines.get(order_id)

    async def current(self, order_ids: Sequence[str]) -> list[TimelineChange]:
        return [self._changes[o] for o in order_ids if o in self._changes]

    async def events(self, order_id: str) -> list[Event]:
        return canonical_sequence(self._events.get(order_id, {}).values())

    async def applied_ids(self, order_id: str) -> frozenset[str]:
        return frozenset(self._events.get(order_id, {}))

    async def order_for_tracking(self, tracking_number: str) -> str | None:
        return self.links.order_for(tracking_number)

    async def order_for_lookup(
        self, order_number: str, email: str | None = None, postcode: str | None = None
    ) -> str | None:
        tokens = query_tokens(email, postcode)
        for token in tokens:
            order_id = self._lookup.get(lookup_key(order_number, token))
            document = self._timelines.get(order_id or "")
            if (
                order_id
                and document
                and document_matches(orjson.loads(document), order_number, tokens)
            ):
                return order_id
        return None

    async def park(self, events: Sequence[Event]) -> list[Event]:
        return self.links.park(events)

    async def parked(self, tracking_number: str) -> list[Event]:
        return self.links.parked(tracking_number)

    async def release(self, tracking_number: str) -> list[Event]:
        return self.links.release(tracking_number)

    async def duplicates(self, order_id: str) -> dict[str, int]:
        return dict(self._duplicates.get(order_id, {}))

    async def close(self) -> None:
        return None
