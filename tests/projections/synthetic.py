"""Order histories for the store tests and benchmarks: the generator's (:mod:`bench.orders`), one
UPS parcel per order that always ships, so every order has exactly one shipment.

Order ``index`` is ``ORD-<index>``, number ``100000 + index``, e-mail
``customer<index>@example.com``; its parcel is :func:`parcel_number` and its destination
:func:`destination`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

from bench.orders import ONE_PARCEL, Mix, Place, story, tracking_number
from wismo.events import Event

#: every kind of scan and trouble, one UPS parcel per order that always ships
STORE = replace(ONE_PARCEL, carriers=("ups",), in_flight=0.3, edd_revised=0.3)


def parcel_number(index: int) -> str:
    return tracking_number("ups", index)


def destination(index: int, mix: Mix = STORE) -> Place:
    return mix.destinations[index % len(mix.destinations)]


def order_history(index: int, rng: random.Random, *, link_scans: bool = True) -> list[Event]:
    """The distinct events of order ``ORD-<index>`` in time order, its story drawn from ``rng``
    (scans unlinked when ``link_scans`` is off)."""
    told = story(index, seed=rng.randrange(1 << 32), mix=STORE)
    return told.events(link_scans=link_scans)


def histories(orders: int, seed: int = 7, *, start: int = 0) -> Iterator[list[Event]]:
    rng = random.Random(seed)
    for index in range(start, start + orders):
        yield order_history(index, rng)


def events_for(orders: int, seed: int = 7) -> list[Event]:
    return [event for history in histories(orders, seed) for event in history]
