"""A generated, messy delivery history as raw payloads: for ``wismo up``, tests and benchmarks.

The orders are the generator's (:mod:`bench.orders`, its ``HISTORY`` mix: every kind of order
and trouble, half the parcels still on their way, some partial order changes), each delivery of
their stories one payload (a payment's authorisation and capture travel together). Then the
real world's mess, all deterministic for a seed:

- the stream is shuffled, so many scans arrive **before their shipment**;
- a share of the scans arrives **late** (after everything else);
- 10 % of the payloads are delivered twice;
- scans are **partial** (no location or message) as often as not;
- a share of payloads is **malformed** (not JSON, a status wismo does not know, no time), and
  must end in the dead-letter topic.

Everything is sent through the ``oms`` source (canonical JSON), with scans attributed to their
carrier; :attr:`History.valid_events` is what the pipeline must fold.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from bench.orders import BASE, HISTORY, Mix, Told, malformed, stories
from projections.ordering import group_by_order
from wismo.events import Event, event_from_dict
from wismo.settings import Settings
from wismo.topics import RAW, RawPayload

SOURCE = "oms"
ORDER_ID = "ORD-{index:06d}"


@dataclass
class History:
    messages: list[RawPayload] = field(default_factory=list)
    valid_events: dict[str, Event] = field(default_factory=dict)
    malformed: list[bytes] = field(default_factory=list)

    def by_order(self) -> dict[str, list[Event]]:
        """Each order's valid events, its carrier scans included (linked by tracking number)."""
        by_order, _ = group_by_order(self.valid_events.values())
        return by_order


def generate(
    orders: int,
    *,
    seed: int = 0,
    duplicate_share: float = 0.1,
    late_share: float = 0.1,
    malformed_share: float = 0.02,
    received_at: datetime | None = None,
    mix: Mix = HISTORY,
) -> History:
    """A shuffled, messy history of ``orders`` orders (see the module docstring)."""
    rng = random.Random(seed)
    received = received_at or datetime.now(UTC)
    history = History()
    payloads: list[Told] = []
    late: list[Told] = []
    for story in stories(orders, seed=seed, mix=mix, order_id=ORDER_ID):
        for told in story.told:
            is_late = told.scan is not None and rng.random() < late_share
            (late if is_late else payloads).append(told)
    rng.shuffle(payloads)
    bodies = [orjson.dumps(told.body) for told in [*payloads, *late]]
    for told in [*payloads, *late]:
        for item in told.events:
            event = event_from_dict({**item, "received_at": received.isoformat()})
            history.valid_events[event.event_id] = event
    for index in range(int(len(bodies) * malformed_share)):
        body = malformed(index, BASE)
        history.malformed.append(body)
        bodies.insert(rng.randrange(len(bodies) + 1), body)
    for _ in range(int(len(bodies) * duplicate_share)):
        bodies.insert(rng.randrange(len(bodies) + 1), rng.choice(bodies))
    history.messages = [
        RawPayload(SOURCE, body, received, delivery_id=f"sim-{n}") for n, body in enumerate(bodies)
    ]
    return history


async def publish(settings: Settings, messages: Iterable[RawPayload]) -> int:
    """Send raw payloads to the raw topic, in order; returns how many were sent."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, linger_ms=5)
    await producer.start()
    sent = 0
    try:
        topic = settings.topic(RAW)
        pending = []
        for message in messages:
            pending.append(
                await producer.send(
                    topic, message.body, key=message.key, headers=message.kafka_headers()
                )
            )
            sent += 1
        for future in pending:
            await future
    finally:
        await producer.stop()
    return sent
