"""What a customer (or anyone with a tracking number) may see of a timeline. Pure: JSON in, JSON
out, no I/O, so the same timeline always gives the same view (the ETag relies on it).

Nothing personal leaves here: places are reduced to city and country, raw carrier messages
(which can name whoever signed) are replaced by wording from the status/reason vocabulary, and
e-mail hashes, postcodes, amounts and payment details are never copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from projections.exceptions import customer_text
from wismo.vocab import ExceptionState, ExceptionType, Reason, Severity

Document = Mapping[str, Any]

MILESTONES = ("ordered", "shipped", "out_for_delivery", "delivered")

STATUS_TEXT = {
    "unknown": "Update from the carrier",
    "pending": "Waiting for the carrier",
    "info_received": "Label created, waiting for the parcel",
    "in_transit": "On its way",
    "exception": "Delayed",
    "attempt_fail": "Delivery attempted",
    "out_for_delivery": "Out for delivery",
    "available_for_pickup": "Ready for pickup",
    "delivered": "Delivered",
    "expired": "No recent updates",
    "returning_to_sender": "Returning to the sender",
    "returned_to_sender": "Returned to the sender",
}

_SEVERITY = {s: rank for rank, s in enumerate(Severity)}
_TYPES = frozenset(ExceptionType)
_REASONS = frozenset(Reason)


def place(value: Document | None) -> dict[str, Any] | None:
    if not value:
        return None
    kept = {k: value[k] for k in ("city", "country") if value.get(k)}
    return kept or None


def describe(status: str | None) -> str:
    return STATUS_TEXT.get(status or "unknown", STATUS_TEXT["unknown"])


def checkpoint_view(checkpoint: Document) -> dict[str, Any]:
    return {
        "at": checkpoint.get("occurred_at"),
        "status": checkpoint.get("status"),
        "reason": checkpoint.get("reason"),
        "description": describe(checkpoint.get("status")),
        "location": place(checkpoint.get("location")),
    }


def shipment_view(shipment: Document) -> dict[str, Any]:
    checkpoints = sorted(
        shipment.get("checkpoints") or (), key=lambda c: c.get("occurred_at") or "", reverse=True
    )
    return {
        "tracking_number": shipment.get("tracking_number"),
        "carrier": shipment.get("carrier"),
        "service": shipment.get("service"),
        "tracking_url": shipment.get("tracking_url"),
        "status": shipment.get("status"),
        "reason": shipment.get("reason"),
        "description": describe(shipment.get("status")),
        "estimated_delivery": shipment.get("estimated_delivery"),
        "window_start": shipment.get("estimated_window_start"),
        "window_end": shipment.get("estimated_window_end"),
        "shipped_at": shipment.get("shipped_at"),
        "delivered_at": shipment.get("delivered_at"),
        "destination": place(shipment.get("destination")),
        "checkpoints": [checkpoint_view(c) for c in checkpoints],
    }


def shipment_items(timeline: Document, shipment: Document) -> list[dict[str, Any]]:
    """What is in one parcel: its lines (or its fulfilment order's), named from the order."""
    quantities: dict[str, int] = shipment.get("lines") or {}
    if not quantities:
        for fulfilment in timeline.get("fulfilment_orders") or []:
            if fulfilment.get("fulfilment_order_id") == shipment.get("fulfilment_order_id"):
                quantities = fulfilment.get("lines") or {}
    lines = {line.get("line_id"): line for line in timeline.get("lines") or []}
    return [
        {
            "name": (lines.get(line_id) or {}).get("name") or (lines.get(line_id) or {}).get("sku"),
            "quantity": quantity,
        }
        for line_id, quantity in quantities.items()
    ]


def _first(values: Iterable[str | None]) -> str | None:
    present = sorted(v for v in values if v)
    return present[0] if present else None


def milestones(timeline: Document) -> list[dict[str, Any]]:
    shipments = timeline.get("shipments") or []
    delivered = [s.get("delivered_at") for s in shipments]
    all_delivered = bool(shipments) and all(delivered)
    reached = {
        "ordered": timeline.get("placed_at") or timeline.get("first_event_at"),
        "shipped": _first(s.get("shipped_at") or s.get("first_scan_at") for s in shipments),
        "out_for_delivery": _first(s.get("out_for_delivery_at") for s in shipments),
        "delivered": max(d for d in delivered if d) if all_delivered else None,
    }
    if reached["delivered"] and not reached["out_for_delivery"]:
        reached["out_for_delivery"] = reached["delivered"]
    return [
        {"name": name, "done": reached[name] is not None, "at": reached[name]}
        for name in MILESTONES
    ]


def delivery_window(timeline: Document) -> dict[str, Any]:
    """The promise, and the carrier's estimate for the last parcel still on its way."""
    pending = [s for s in timeline.get("shipments") or [] if not s.get("delivered_at")]
    latest = max(pending, key=lambda s: s.get("estimated_delivery") or "", default=None)
    return {
        "promised": timeline.get("promised_delivery_date"),
        "estimated": latest.get("estimated_delivery") if latest else None,
        "window_start": latest.get("estimated_window_start") if latest else None,
        "window_end": latest.get("estimated_window_end") if latest else None,
    }


def banner(timeline: Document) -> str | None:
    """The customer wording of the most severe exception still open (or acknowledged)."""
    live = [
        e
        for e in timeline.get("exceptions") or []
        if e.get("state") != ExceptionState.RESOLVED and e.get("type") in _TYPES
    ]
    if not live:
        return None
    worst = max(
        live, key=lambda e: (_SEVERITY.get(e.get("severity"), -1), e.get("opened_at") or "")
    )
    reason = worst.get("reason")
    return customer_text(
        ExceptionType(worst["type"]), Reason(reason) if reason in _REASONS else None
    )


def customer_view(timeline: Document) -> dict[str, Any]:
    return {
        "order_id": timeline.get("order_id"),
        "order_number": timeline.get("order_number"),
        "status": timeline.get("status"),
        "placed_at": timeline.get("placed_at"),
        "cancelled": bool(timeline.get("cancelled")),
        "milestones": milestones(timeline),
        "delivery": delivery_window(timeline),
        "banner": banner(timeline),
        "items": [
            {"name": line.get("name") or line.get("sku"), "quantity": line.get("quantity")}
            for line in timeline.get("lines") or []
        ],
        "shipments": [
            {**shipment_view(s), "items": shipment_items(timeline, s)}
            for s in timeline.get("shipments") or []
        ],
        "returns": [
            {
                "status": r.get("status"),
                "carrier": r.get("carrier"),
                "tracking_number": r.get("tracking_number"),
            }
            for r in timeline.get("returns") or []
        ],
        "version": timeline.get("version"),
        "updated_at": timeline.get("last_event_at"),
    }


def tracking_view(timeline: Document, tracking_number: str) -> dict[str, Any] | None:
    """The public view of one parcel: no order details at all."""
    for shipment in timeline.get("shipments") or []:
        numbers = {shipment.get("tracking_number")}
        numbers |= {p.get("tracking_number") for p in shipment.get("packages") or []}
        if tracking_number in numbers:
            return shipment_view({**shipment, "tracking_number": tracking_number})
    for leg in timeline.get("returns") or []:
        if leg.get("tracking_number") == tracking_number:
            return shipment_view(
                {**leg, "status": leg.get("carrier_status"), "shipped_at": leg.get("shipped_at")}
            )
    return None
