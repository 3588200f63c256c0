"""Which carrier webhooks ``wismo up`` dropped on purpose, and which of them polling healed.

Pure bookkeeping: ``wismo up`` (:mod:`cli.commands.up`) hands every webhook the simulator drops
to :func:`drops_of`, reads what the order's timeline holds under each dropped scan's event id and
the headers of the raw payload that event was applied from, and asks :func:`fate`. A
:class:`Ledger` keeps the tally for the log, the terminal and the simulated carrier's
``GET /simulation/drops`` report.

A dropped scan is *healed* once its order's timeline holds its event — the same event id: a
polled scan folds into the event the push would have given — and that event was applied from a
payload the poll role published (raw header ``wismo-origin: poll``). Applied from any other
payload (the simulator sends a few deliveries again under a new delivery id), it arrived
*otherwise*. A scan of a parcel already final (delivered, returned) stays *waiting*: the poll role
polls live parcels only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bench.simulate import ORDER_ID, Post
from wismo.events import TrackingCheckpointEvent
from wismo.topics import Header

#: the origin of a raw payload without the ``wismo-origin`` header: pushed to the API
PUSHED = "webhook"
POLLED = "poll"


@dataclass(frozen=True, slots=True)
class Drop:
    """One scan a dropped webhook told: the milestone its order's timeline is missing."""

    order_id: str
    tracking_number: str
    event_id: str
    status: str
    occurred_at: datetime
    dropped_at: datetime


class Fate(StrEnum):
    WAITING = "waiting"  # the order's timeline does not hold it
    HEALED = "healed"  # held, applied from a payload the poll role published
    OTHERWISE = "arrived otherwise"  # held, applied from another payload (a webhook sent again)


def drops_of(post: Post, seed: int, at: datetime) -> list[Drop]:
    """The scans of a webhook the simulator dropped at ``at`` (its ``tracking.checkpoint``
    events, as the normaliser would have made them); none for a delivery of no order."""
    from carriers.registry import get

    if post.order < 0 or post.malformed:
        return []
    order_id = ORDER_ID.format(seed=seed, index=post.order)
    result = get(post.source).parse(post.body, {}, at)
    return [
        Drop(order_id, number, event.event_id, str(event.payload.status), event.occurred_at, at)
        for event in result.events
        if isinstance(event, TrackingCheckpointEvent) and (number := event.tracking_number)
    ]


def origin_of(headers: Mapping[str, str]) -> str:
    """How a raw payload arrived: ``poll``, ``sync``, or ``webhook`` (no origin header)."""
    return headers.get(Header.ORIGIN.value) or PUSHED


def fate(held: Mapping[str, Any] | None, raw_headers: Mapping[str, str] | None) -> Fate | None:
    """The fate of a dropped scan, from the event its order's timeline holds under its id
    (``None``: none) and the headers of the raw payload that event's ``raw_ref`` names
    (``None``: not read). ``None``: held, but where it came from is not known yet."""
    if held is None:
        return Fate.WAITING
    if raw_headers is None:
        return None
    return Fate.HEALED if origin_of(raw_headers) == POLLED else Fate.OTHERWISE


@dataclass
class Ledger:
    """The dropped scans and their fates, by event id; thread-safe (filled by the simulator's
    thread, settled by the watcher's, read by the carrier API's)."""

    _drops: dict[str, Drop] = field(default_factory=dict)
    _fates: dict[str, tuple[Fate, datetime | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, drops: Iterable[Drop]) -> None:
        """Record dropped scans (one dropped twice — a delivery sent again — counts once)."""
        with self._lock:
            for drop in drops:
                if drop.event_id not in self._drops:
                    self._drops[drop.event_id] = drop
                    self._fates[drop.event_id] = (Fate.WAITING, None)

    def waiting(self) -> list[Drop]:
        with self._lock:
            return [d for i, d in self._drops.items() if self._fates[i][0] is Fate.WAITING]

    def settle(self, event_id: str, fate: Fate, at: datetime | None) -> bool:
        """Record a waiting scan's fate (``at``: when the event was received); whether it was
        waiting."""
        with self._lock:
            if event_id not in self._drops or self._fates[event_id][0] is not Fate.WAITING:
                return False
            self._fates[event_id] = (fate, at)
            return True

    def counts(self) -> dict[Fate, int]:
        with self._lock:
            counts = dict.fromkeys(Fate, 0)
            for fate, _ in self._fates.values():
                counts[fate] += 1
            return counts

    def summary(self) -> str:
        """``N dropped, M healed by polling`` (and how many arrived otherwise, if any)."""
        counts = self.counts()
        text = f"{sum(counts.values())} dropped, {counts[Fate.HEALED]} healed by polling"
        if counts[Fate.OTHERWISE]:
            text += f", {counts[Fate.OTHERWISE]} arrived otherwise"
        return text

    def status(self) -> str:
        """The status line's part: ``M/N dropped webhooks healed by polling`` (empty until one
        was dropped)."""
        counts = self.counts()
        dropped = sum(counts.values())
        if not dropped:
            return ""
        return f"{counts[Fate.HEALED]}/{dropped} dropped webhooks healed by polling"

    def report(self) -> dict[str, Any]:
        """The JSON document of ``GET /simulation/drops``: counts, then every dropped scan."""
        counts = self.counts()
        with self._lock:
            rows = [(d, *self._fates[i]) for i, d in self._drops.items()]
        return {
            "dropped": sum(counts.values()),
            "healed": counts[Fate.HEALED],
            "otherwise": counts[Fate.OTHERWISE],
            "waiting": counts[Fate.WAITING],
            "drops": [
                {
                    "order_id": drop.order_id,
                    "tracking_number": drop.tracking_number,
                    "event_id": drop.event_id,
                    "status": drop.status,
                    "occurred_at": drop.occurred_at.isoformat(),
                    "dropped_at": drop.dropped_at.isoformat(),
                    "fate": fate.value,
                    "arrived_at": at.isoformat() if at is not None else None,
                }
                for drop, fate, at in rows
            ],
        }
