"""Pure planning for an apply: which incoming copies an order must store, which were duplicates.

Both stores run the same plan, so they keep the same copy of every event: the one
:func:`projections.ordering.dedupe` prefers, whatever the arrival order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from projections.ordering import dedupe
from wismo.events import Event


@dataclass(slots=True)
class OrderMerge:
    """The result of offering events to one order that already holds ``stored``."""

    order_id: str
    stored: Mapping[str, Event]
    writes: dict[str, Event] = field(default_factory=dict)
    """Copies to store: events the order did not have, or a preferred copy of one it had."""
    duplicates: Counter[str] = field(default_factory=Counter)
    """Per event id, the deliveries that added nothing (already held or a losing copy)."""

    @property
    def new_ids(self) -> set[str]:
        return self.writes.keys() - self.stored.keys()

    def merged(self) -> list[Event]:
        return list({**self.stored, **self.writes}.values())


def merge(order_id: str, stored: Mapping[str, Event], incoming: Iterable[Event]) -> OrderMerge:
    plan = OrderMerge(order_id, stored)
    for event in incoming:
        current = plan.writes.get(event.event_id) or stored.get(event.event_id)
        if current is None:
            plan.writes[event.event_id] = event
            continue
        plan.duplicates[event.event_id] += 1
        if current != event:
            winner = dedupe([current, event])[event.event_id]
            if winner is event:
                plan.writes[event.event_id] = event
    return plan


def with_order(event: Event, order_id: str) -> Event:
    """The same event, linked to its order (a scan that arrived before its shipment)."""
    if event.order_id == order_id:
        return event
    return event.model_copy(update={"order_id": order_id})
