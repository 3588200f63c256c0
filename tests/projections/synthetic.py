"""Quick, deterministic synthetic order histories for store tests and benchmarks.

Each order gets ~10 events: placed (order number, e-mail, promised date, postcode), fulfilment
created and shipped, a walk of carrier scans, sometimes an EDD revision and a failed attempt,
and a payment authorised and captured.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from wismo.events import Event, event_from_dict

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_WALK = ["info_received", "in_transit", "in_transit", "out_for_delivery", "delivered"]


def _event(
    event_id: str, source: str, kind: str, at: datetime, payload: dict[str, Any], **keys: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": source,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "received_at": (at + timedelta(seconds=3)).isoformat(),
        "payload": payload,
        **keys,
    }


def order_history(index: int, rng: random.Random, *, link_scans: bool = True) -> list[Event]:
    """The distinct events of order ``ORD-<index>`` (scans unlinked when ``link_scans`` is off)."""
    order_id = f"ORD-{index}"
    tracking = f"1ZSYN{index:010d}"
    start = BASE + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
    promised = (start + timedelta(days=rng.randrange(2, 6))).date()
    raw = [
        _event(
            f"oms:{order_id}:placed",
            "oms",
            "order.placed",
            start,
            {
                "order_number": f"{100000 + index}",
                "customer_email": f"customer{index}@example.com",
                "currency": "EUR",
                "total_amount": f"{rng.randrange(5, 500)}.00",
                "lines": [{"line_id": "L1", "sku": f"SKU{index % 97}", "quantity": 1}],
                "delivery_groups": [
                    {
                        "group_id": "G1",
                        "promised_delivery_date": promised.isoformat(),
                        "destination": {"postal_code": f"LS{index % 30} 1AB", "country": "GB"},
                        "line_ids": ["L1"],
                    }
                ],
            },
            order_id=order_id,
        ),
        _event(
            f"psp:{order_id}:auth",
            "psp",
            "payment.authorized",
            start + timedelta(minutes=1),
            {"payment_id": f"P{index}", "amount": "10.00", "currency": "EUR"},
            order_id=order_id,
        ),
        _event(
            f"wms:{order_id}:created",
            "wms",
            "fulfilment.created",
            start + timedelta(minutes=5),
            {"fulfilment_order_id": f"FO{index}"},
            order_id=order_id,
        ),
    ]
    shipped_at = start + timedelta(hours=rng.randrange(2, 30))
    raw.append(
        _event(
            f"wms:{order_id}:shipped",
            "wms",
            "fulfilment.shipped",
            shipped_at,
            {
                "shipment_id": f"SH{index}",
                "fulfilment_order_id": f"FO{index}",
                "carrier": "ups",
                "service": "ground",
                "tracking_number": tracking,
                "carrier_edd": promised.isoformat(),
                "lines": [{"line_id": "L1", "quantity": 1}],
                "origin": {"city": "Leeds", "country": "GB"},
                "destination": {"postal_code": f"LS{index % 30} 1AB", "country": "GB"},
            },
            order_id=order_id,
        )
    )
    raw.append(
        _event(
            f"psp:{order_id}:capture",
            "psp",
            "payment.captured",
            shipped_at + timedelta(minutes=2),
            {"payment_id": f"P{index}", "amount": "10.00"},
            order_id=order_id,
        )
    )
    scan_keys: dict[str, Any] = {"tracking_number": tracking}
    if link_scans:
        scan_keys["order_id"] = order_id
    at = shipped_at
    for step, status in enumerate(_WALK[: rng.randrange(1, len(_WALK) + 1)]):
        at += timedelta(hours=rng.randrange(1, 20))
        payload: dict[str, Any] = {
            "status": status,
            "raw_code": f"S{step}",
            "carrier": "ups",
            "location": {"city": "Leeds", "country": "GB"},
        }
        if status == "out_for_delivery" and rng.random() < 0.2:
            raw.append(
                _event(
                    f"ups:{tracking}:fail{step}",
                    "ups",
                    "tracking.checkpoint",
                    at,
                    {
                        "status": "attempt_fail",
                        "reason": "consignee_not_available",
                        "raw_code": "FA",
                    },
                    **scan_keys,
                )
            )
            at += timedelta(hours=20)
        raw.append(
            _event(f"ups:{tracking}:{step}", "ups", "tracking.checkpoint", at, payload, **scan_keys)
        )
    if rng.random() < 0.3:
        revised = promised + timedelta(days=rng.randrange(1, 3))
        raw.append(
            _event(
                f"ups:{tracking}:edd",
                "ups",
                "edd.revised",
                at,
                {"estimated_delivery": revised.isoformat()},
                **scan_keys,
            )
        )
    return [event_from_dict(item) for item in raw]


def histories(orders: int, seed: int = 7, *, start: int = 0) -> Iterator[list[Event]]:
    rng = random.Random(seed)
    for index in range(start, start + orders):
        yield order_history(index, rng)


def events_for(orders: int, seed: int = 7) -> list[Event]:
    return [event for history in histories(orders, seed) for event in history]
