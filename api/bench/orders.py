"""The orders the API benchmarks read, watch and update: canonical events, as a shop's OMS/WMS
feed (``oms`` source) sends them.

Each order is placed with two lines and a promised date, shipped with one parcel, and scanned a
few times, so its status page has the size of a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ORIGIN = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CARRIERS = ("ups", "fedex", "dhl", "usps")
_WALK = ("info_received", "in_transit", "in_transit", "out_for_delivery")


@dataclass(frozen=True)
class BenchOrder:
    order_id: str
    tracking_number: str
    carrier: str
    events: list[dict[str, Any]]


def _event(
    event_id: str, source: str, kind: str, at: datetime, payload: dict[str, Any], **keys: str
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": source,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "payload": payload,
        **keys,
    }


def bench_order(index: int, run: str) -> BenchOrder:
    order_id = f"BENCH-{run}-{index:06d}"
    carrier = CARRIERS[index % len(CARRIERS)]
    number = f"{carrier.upper()}{run.upper()}{index:08d}"
    placed = ORIGIN + timedelta(minutes=index)
    shipped = placed + timedelta(hours=20)
    promised = (placed + timedelta(days=3)).date().isoformat()
    lines = [
        {"line_id": "L1", "sku": "SKU-0001", "name": "Trail running shoes", "quantity": 1},
        {"line_id": "L2", "sku": "SKU-0002", "name": "Merino socks", "quantity": 2},
    ]
    group = {
        "group_id": "G1",
        "promised_delivery_date": promised,
        "destination": {"city": "Leeds", "postal_code": "LS1 4AP", "country": "GB"},
        "line_ids": ["L1", "L2"],
    }
    placed_payload = {
        "order_number": f"{run}-{index}",
        "customer_email": f"customer{index}@example.com",
        "currency": "GBP",
        "total_amount": "96.00",
        "lines": lines,
        "delivery_groups": [group],
    }
    shipment = {
        "fulfilment_order_id": f"FO-{order_id}",
        "carrier": carrier,
        "tracking_number": number,
        "carrier_edd": promised,
        "shipped_at": shipped.isoformat(),
    }
    keys = {"order_id": order_id}
    events = [
        _event(f"oms:{order_id}:placed", "oms", "order.placed", placed, placed_payload, **keys),
        _event(f"wms:{order_id}:shipped", "wms", "fulfilment.shipped", shipped, shipment, **keys),
    ]
    at = shipped
    for step, status in enumerate(_WALK):
        at += timedelta(hours=3)
        checkpoint = {
            "status": status,
            "carrier": carrier,
            "raw_code": status[:3].upper(),
            "location": {"city": "Leeds", "country": "GB"},
            "message": f"{status.replace('_', ' ')} at depot",
        }
        events.append(
            _event(
                f"{carrier}:{number}:{step}",
                carrier,
                "tracking.checkpoint",
                at,
                checkpoint,
                tracking_number=number,
            )
        )
    return BenchOrder(order_id, number, carrier, events)
