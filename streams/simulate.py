"""A generated, messy delivery history as raw payloads: for ``wismo up``, tests and benchmarks.

Each order: placed (lines, delivery group with a promised date), payment authorised and captured
(sent together as one batch payload), fulfilment created → packed → shipped (tracking number,
carrier EDD), a walk of carrier scans, sometimes an exception, a failed attempt, an EDD revision
or a partial order change. Then the real world's mess, all deterministic for a seed:

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
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from projections.ordering import group_by_order
from wismo.events import Event, event_from_dict
from wismo.settings import Settings
from wismo.topics import RAW, RawPayload

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SOURCE = "oms"
_WALK = ["info_received", "in_transit", "in_transit", "out_for_delivery", "delivered"]
_CARRIERS = ("ups", "fedex", "dhl", "usps")
_EXCEPTIONS = (("exception", "weather_delay"), ("exception", "customs_hold"))


@dataclass
class History:
    messages: list[RawPayload] = field(default_factory=list)
    valid_events: dict[str, Event] = field(default_factory=dict)
    malformed: list[bytes] = field(default_factory=list)

    def by_order(self) -> dict[str, list[Event]]:
        """Each order's valid events, its carrier scans included (linked by tracking number)."""
        by_order, _ = group_by_order(self.valid_events.values())
        return by_order


def _event(
    event_id: str, source: str, kind: str, at: datetime, payload: dict[str, Any], **keys: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": source,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "payload": payload,
        **keys,
    }


def _order(index: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """The payloads of one order (each a list of events sent together)."""
    order_id = f"ORD-{index:06d}"
    carrier = rng.choice(_CARRIERS)
    tracking = f"{carrier.upper()}{index:012d}"
    start = BASE + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
    promised = (start + timedelta(days=rng.randrange(2, 6))).date()
    keys = {"order_id": order_id}
    lines = [
        {"line_id": f"L{n}", "sku": f"SKU{rng.randrange(500)}", "quantity": rng.randrange(1, 4)}
        for n in range(1, rng.randrange(2, 4))
    ]
    line_ids = [line["line_id"] for line in lines]
    placed = {
        "order_number": f"{100000 + index}",
        "customer_email": f"customer{index}@example.com",
        "currency": "EUR",
        "total_amount": f"{rng.randrange(5, 500)}.00",
        "lines": lines,
        "delivery_groups": [
            {
                "group_id": "G1",
                "promised_delivery_date": promised.isoformat(),
                "destination": {"postal_code": f"LS{index % 30} 1AB", "country": "GB"},
                "line_ids": line_ids,
            }
        ],
    }
    payment = {"payment_id": f"PAY-{index}", "amount": placed["total_amount"], "currency": "EUR"}
    fo = {"fulfilment_order_id": f"FO-{index}", "warehouse": "WH1"}
    shipped_at = start + timedelta(hours=rng.randrange(3, 30))
    payloads: list[list[dict[str, Any]]] = [
        [_event(f"oms:{order_id}:placed", "oms", "order.placed", start, placed, **keys)],
        [
            _event(f"oms:{order_id}:auth", "oms", "payment.authorized", start, payment, **keys),
            _event(
                f"oms:{order_id}:capture",
                "oms",
                "payment.captured",
                start + timedelta(minutes=5),
                payment,
                **keys,
            ),
        ],
        [
            _event(
                f"wms:{order_id}:created",
                "wms",
                "fulfilment.created",
                start + timedelta(minutes=10),
                {**fo, "delivery_group_id": "G1"},
                **keys,
            )
        ],
        [
            _event(
                f"wms:{order_id}:packed",
                "wms",
                "fulfilment.packed",
                shipped_at - timedelta(hours=1),
                fo,
                **keys,
            )
        ],
        [
            _event(
                f"wms:{order_id}:shipped",
                "wms",
                "fulfilment.shipped",
                shipped_at,
                {
                    "fulfilment_order_id": fo["fulfilment_order_id"],
                    "carrier": carrier,
                    "tracking_number": tracking,
                    "carrier_edd": promised.isoformat(),
                    "shipped_at": shipped_at.isoformat(),
                },
                **keys,
            )
        ],
    ]
    if rng.random() < 0.2:  # a partial change: only the sales channel is said
        payloads.append(
            [
                _event(
                    f"oms:{order_id}:changed",
                    "oms",
                    "order.changed",
                    start + timedelta(minutes=2),
                    {"sales_channel": "app"},
                    **keys,
                )
            ]
        )
    walk = list(_WALK[: rng.randrange(2, len(_WALK) + 1)])
    if rng.random() < 0.15:
        walk.insert(2, rng.choice(_EXCEPTIONS)[0])
    if rng.random() < 0.1 and "delivered" in walk:
        walk.insert(walk.index("delivered"), "attempt_fail")
    at = shipped_at
    for step, status in enumerate(walk):
        at += timedelta(hours=rng.randrange(2, 20))
        checkpoint: dict[str, Any] = {
            "status": status,
            "carrier": carrier,
            "raw_code": status[:3].upper(),
        }
        if status == "exception":
            checkpoint["reason"] = rng.choice(_EXCEPTIONS)[1]
        if rng.random() < 0.5:  # partial scans: no location, no message
            checkpoint["location"] = {"city": "Leeds", "country": "GB"}
            checkpoint["message"] = f"{status.replace('_', ' ')} at depot"
        payloads.append(
            [
                _event(
                    f"{carrier}:{tracking}:{step}",
                    carrier,
                    "tracking.checkpoint",
                    at,
                    checkpoint,
                    tracking_number=tracking,
                )
            ]
        )
    if rng.random() < 0.1:
        edd = (promised + timedelta(days=1)).isoformat()
        payloads.append(
            [
                _event(
                    f"{carrier}:{tracking}:edd",
                    carrier,
                    "edd.revised",
                    shipped_at + timedelta(hours=1),
                    {"estimated_delivery": edd, "carrier": carrier},
                    tracking_number=tracking,
                )
            ]
        )
    return payloads


def _malformed(index: int, rng: random.Random) -> bytes:
    variant = rng.randrange(3)
    if variant == 0:
        return f'{{"kind": "order.placed", "order_id": "BROKEN-{index}"'.encode()  # cut short
    if variant == 1:
        scan = _event(
            f"ups:BAD{index}",
            "ups",
            "tracking.checkpoint",
            BASE,
            {"status": "teleported"},
            tracking_number=f"BAD{index:08d}",
        )
        return orjson.dumps(scan)
    missing_time = _event(
        f"oms:BAD-{index}", "oms", "order.placed", BASE, {}, order_id=f"BAD-{index}"
    )
    del missing_time["occurred_at"]
    return orjson.dumps(missing_time)


def generate(
    orders: int,
    *,
    seed: int = 0,
    duplicate_share: float = 0.1,
    late_share: float = 0.1,
    malformed_share: float = 0.02,
    received_at: datetime | None = None,
) -> History:
    """A shuffled, messy history of ``orders`` orders (see the module docstring)."""
    rng = random.Random(seed)
    received = received_at or datetime.now(UTC)
    history = History()
    payloads: list[list[dict[str, Any]]] = []
    late: list[list[dict[str, Any]]] = []
    for index in range(orders):
        for payload in _order(index, rng):
            is_scan = payload[0]["kind"] == "tracking.checkpoint"
            (late if is_scan and rng.random() < late_share else payloads).append(payload)
    rng.shuffle(payloads)
    bodies = [orjson.dumps(p[0] if len(p) == 1 else p) for p in [*payloads, *late]]
    for payload in [*payloads, *late]:
        for item in payload:
            event = event_from_dict({**item, "received_at": received.isoformat()})
            history.valid_events[event.event_id] = event
    for index in range(int(len(bodies) * malformed_share)):
        body = _malformed(index, rng)
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
