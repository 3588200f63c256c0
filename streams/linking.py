"""Pure decisions of the link agent for one batch of tracking messages (no I/O).

The agent reads what Redis knows about the batch's numbers in one round trip, asks
:func:`plan` what the batch does, writes the result in one more round trip and sends the
forwards. Deciding the whole batch at once, instead of message by message, keeps the partition
order's meaning:

- a shipment or return (``order_id`` set) links its number to its order; the first one of a
  number in the batch releases the scans parked under that number before the batch;
- a scan whose number is linked (in Redis before the batch, or by an earlier message of the
  batch) is forwarded with that order id;
- a scan whose number is not linked yet waits in the batch: a later shipment of its number
  releases it with that shipment's order id (what "parked, then released" did one message at a
  time); if none comes, it is parked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.routing import linked
from wismo.events import Event, dump_event, parse_event


@dataclass(frozen=True, slots=True)
class Tracked:
    """One message of the tracking topic: its key (the tracking number) and its event."""

    number: str
    event: Event


@dataclass(frozen=True, slots=True)
class Needs:
    """What the plan must know from Redis before the batch."""

    links: frozenset[str]
    """Numbers whose stored link decides a scan (scanned before any shipment in the batch)."""
    parked: frozenset[str]
    """Numbers with a shipment in the batch: their parked scans are released."""


@dataclass(slots=True)
class Plan:
    links: dict[str, str] = field(default_factory=dict)
    """Number → order to record (the batch's last shipment of the number wins)."""
    parks: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Number → event id → event: scans still without an order after the batch."""
    forwards: list[tuple[str, Event]] = field(default_factory=list)
    """(order id, scan joined to it), in batch order, for the events topic."""
    released: dict[str, list[str]] = field(default_factory=dict)
    """Number → ids of scans parked before the batch and forwarded now: forget them once the
    forwarded copies are acknowledged."""


def needs(batch: Iterable[Tracked]) -> Needs:
    shipped: set[str] = set()
    scanned_first: set[str] = set()
    for item in batch:
        if item.event.order_id is not None:
            shipped.add(item.number)
        elif item.number not in shipped:
            scanned_first.add(item.number)
    return Needs(links=frozenset(scanned_first), parked=frozenset(shipped))


def plan(
    batch: Sequence[Tracked],
    known: Mapping[str, str | None],
    parked: Mapping[str, Mapping[str, bytes]],
) -> Plan:
    """What ``batch`` does, given the links (``known``) and parked scans Redis held before it.

    ``known`` must answer for :attr:`Needs.links` and ``parked`` for :attr:`Needs.parked`
    (a number missing from either counts as unlinked / nothing parked).
    """
    result = Plan()
    order_of: dict[str, str] = {n: o for n, o in known.items() if o is not None}
    waiting: dict[str, dict[str, Event]] = {}  # number → event id → scan, unlinked so far
    releasing: set[str] = set()
    for item in batch:
        number, event = item.number, item.event
        if event.order_id is not None:
            order_id = event.order_id
            order_of[number] = order_id
            result.links[number] = order_id
            held: dict[str, Event] = {}
            if number not in releasing:  # what was parked before the batch: released once
                releasing.add(number)
                stored = parked.get(number, {})
                held.update((event_id, parse_event(raw)) for event_id, raw in stored.items())
                if stored:
                    result.released[number] = list(stored)
            held.update(waiting.pop(number, {}))
            result.forwards.extend((order_id, linked(scan, order_id)) for scan in held.values())
        elif (known_order := order_of.get(number)) is not None:
            result.forwards.append((known_order, linked(event, known_order)))
        else:
            waiting.setdefault(number, {})[event.event_id] = event
    for number, scans in waiting.items():
        result.parks[number] = {event_id: dump_event(scan) for event_id, scan in scans.items()}
    return result
