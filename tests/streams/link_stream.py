"""Tracking-topic messages for the link agent's tests and benchmark, and the reference semantics.

:func:`one_at_a_time` is the link agent's meaning stated message by message (what it did before
it planned whole batches): the batched agent must forward and park exactly what it does.
"""

from __future__ import annotations

import inspect
import random
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from streams.linking import Tracked
from wismo.events import Event, event_from_dict, parse_event


def scan(number: str, event_id: str, minute: int = 0) -> Tracked:
    event = event_from_dict(
        {
            "event_id": event_id,
            "source": "ups",
            "kind": "tracking.checkpoint",
            "tracking_number": number,
            "occurred_at": f"2026-03-02T09:{minute % 60:02d}:00Z",
            "payload": {"status": "in_transit"},
        }
    )
    return Tracked(number, event)


def shipment(number: str, order_id: str) -> Tracked:
    event = event_from_dict(
        {
            "event_id": f"wms:{order_id}:{number}:shipped",
            "source": "wms",
            "kind": "fulfilment.shipped",
            "order_id": order_id,
            "occurred_at": "2026-03-01T12:00:00Z",
            "payload": {"tracking_number": number},
        }
    )
    return Tracked(number, event)


def tracking_stream(numbers: int, scans: int, *, early: int = 1, seed: int = 7) -> list[Tracked]:
    """Per number ``early`` scans before its shipment and ``scans - early`` after, the numbers
    interleaved at random (each number's own messages stay in order, as on its partition)."""
    rng = random.Random(seed)
    histories: list[list[Tracked]] = []
    for n in range(numbers):
        number = f"1ZBENCH{n:07d}"
        own = [scan(number, f"ups:{number}:{i}", i) for i in range(scans)]
        histories.append([*own[:early], shipment(number, f"O{n}"), *own[early:]])
    stream: list[Tracked] = []
    while histories:
        index = rng.randrange(len(histories))
        stream.append(histories[index].pop(0))
        if not histories[index]:
            histories[index] = histories[-1]
            histories.pop()
    return stream


@dataclass
class Reference:
    """The outcome of :func:`one_at_a_time`: forwards as (event id, order id) and what is left
    parked (number → event ids)."""

    forwarded: Counter[tuple[str, str]] = field(default_factory=Counter)
    parked: dict[str, set[str]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


def one_at_a_time(messages: Iterable[Tracked], before: Reference | None = None) -> Reference:
    """Each message in turn: a shipment links and releases (and forgets) what was parked, a
    linked scan is forwarded, any other scan is parked."""
    state = before or Reference()
    for item in messages:
        number, event = item.number, item.event
        if event.order_id is not None:
            state.links[number] = event.order_id
            for event_id in sorted(state.parked.pop(number, set())):
                state.forwarded[(event_id, event.order_id)] += 1
        elif number in state.links:
            state.forwarded[(event.event_id, state.links[number])] += 1
        else:
            state.parked.setdefault(number, set()).add(event.event_id)
    return state


class Sink:
    """A stand-in for the events topic: records what is sent, acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def __call__(self, key: str, value: bytes) -> Awaitable[Any]:
        self.sent.append((key, value))
        return _acknowledged()

    def forwarded(self) -> Counter[tuple[str, str]]:
        pairs: Counter[tuple[str, str]] = Counter()
        for key, value in self.sent:
            event: Event = parse_event(value)
            assert event.order_id == key
            pairs[(event.event_id, key)] += 1
        return pairs


async def _acknowledged() -> None:
    return None


class CountingRedis:
    """The real client, counting round trips; ``lose_reply`` makes those round trips (1-based)
    run on the server and then fail as if the connection dropped before the reply."""

    def __init__(self, redis: aioredis.Redis, lose_reply: set[int] | None = None) -> None:
        self.redis = redis
        self.trips = 0
        self.lose_reply = lose_reply or set()

    def pipeline(self, **options: Any) -> Any:
        pipe = self.redis.pipeline(**options)
        run = pipe.execute

        async def execute(*args: Any, **kwargs: Any) -> Any:
            self.trips += 1
            trip = self.trips
            replies = await run(*args, **kwargs)
            if trip in self.lose_reply:
                raise ConnectionError("connection lost before the reply")
            return replies

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.redis, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):  # a command: one round trip
                self.trips += 1
            return result

        return counted
