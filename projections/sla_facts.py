"""The SLA columns of a shipment fact row, derived from its order's timeline JSON. No I/O.

Everything the KPI queries need is put on the shipment row itself, so every KPI is one scan of
``shipments FINAL`` (optionally with ``ARRAY JOIN``) instead of joins over the event log: the
row is replaced wholesale by each new timeline version, which keeps the arrays exact.

- ``ship_by``: the fulfilment order's ship-by, else the delivery group's;
- ``edd_revisions``: how many times the estimated delivery date changed;
- ``exception_types`` / ``exception_reasons``: the exceptions naming this shipment;
- ``stay_*``: the parcel's stays (consecutive scans at one place) with arrival and departure;
- order-level facts on the order's first shipment (``first_of_order``): whether any shipment
  was delivered, whether a return was authorized or received, and the hours from each received
  return to its first refund.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

SLA_COLUMNS = (
    "ship_by", "edd_revisions", "exception_types", "exception_reasons", "stay_places",
    "stay_arrived", "stay_departed", "first_of_order", "order_delivered", "order_returned",
    "refund_waits_h",
)  # fmt: skip


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def ship_by(document: dict[str, Any], shipment: dict[str, Any]) -> datetime | None:
    for order in document.get("fulfilment_orders", ()):
        same = order["fulfilment_order_id"] == shipment.get("fulfilment_order_id")
        if same and order.get("ship_by"):
            return _instant(order["ship_by"])
    for group in document.get("delivery_groups", ()):
        if group["group_id"] == shipment.get("delivery_group_id"):
            return _instant(group.get("ship_by"))
    return None


def _place(checkpoint: dict[str, Any]) -> str:
    location = checkpoint.get("location") or {}
    return str(location.get("facility") or location.get("city") or "")


def stays(checkpoints: Iterable[dict[str, Any]]) -> list[tuple[str, datetime, datetime]]:
    """(place, arrived, departed) per parcel stay; a parcel's last stay has no departure yet."""
    by_parcel: dict[str, list[tuple[datetime, str, str]]] = {}
    for checkpoint in checkpoints:
        place = _place(checkpoint)
        if place:
            at = datetime.fromisoformat(checkpoint["occurred_at"])
            parcel = by_parcel.setdefault(checkpoint["tracking_number"], [])
            parcel.append((at, checkpoint["event_id"], place))
    found = []
    for scans in by_parcel.values():
        starts: list[tuple[datetime, str]] = []
        for at, _, place in sorted(scans):
            if not starts or starts[-1][1] != place:
                starts.append((at, place))
        found += [
            (place, arrived, departed)
            for (arrived, place), (departed, _) in itertools.pairwise(starts)
            if departed > arrived
        ]
    return found


def _first_shipment_id(document: dict[str, Any]) -> str | None:
    placed = document.get("placed_at") or ""
    shipments = document.get("shipments") or ()
    if not shipments:
        return None
    first = min(shipments, key=lambda s: (s.get("shipped_at") or placed, s["shipment_id"]))
    return str(first["shipment_id"])


def refund_waits_h(document: dict[str, Any]) -> list[float]:
    """Hours from each received return to the first refund that names it."""
    refunds: dict[str, datetime] = {}
    for refund in document.get("refunds", ()):
        issued = datetime.fromisoformat(refund["issued_at"])
        if refund.get("return_id") and (
            refund["return_id"] not in refunds or issued < refunds[refund["return_id"]]
        ):
            refunds[refund["return_id"]] = issued
    waits = []
    for returned in document.get("returns", ()):
        received = _instant(returned.get("received_at"))
        refunded = refunds.get(returned["return_id"])
        if received is not None and refunded is not None:
            waits.append((refunded - received).total_seconds() / 3600)
    return waits


def sla_columns(document: dict[str, Any], shipment: dict[str, Any]) -> tuple[Any, ...]:
    """Values for :data:`SLA_COLUMNS`, in that order."""
    subjects = {shipment["shipment_id"], shipment.get("tracking_number")} - {None}
    mine = [e for e in document.get("exceptions", ()) if e.get("subject") in subjects]
    parcel_stays = stays(shipment.get("checkpoints") or ())
    first = _first_shipment_id(document) == shipment["shipment_id"]
    returns = document.get("returns") or ()
    return (
        ship_by(document, shipment),
        max(len(shipment.get("edd_history") or ()) - 1, 0),
        [e.get("type") or "" for e in mine],
        [e.get("reason") or "" for e in mine],
        [place for place, _, _ in parcel_stays],
        [arrived for _, arrived, _ in parcel_stays],
        [departed for _, _, departed in parcel_stays],
        int(first),
        int(first and any(s.get("delivered_at") for s in document.get("shipments", ()))),
        int(first and any(r.get("authorized_at") or r.get("received_at") for r in returns)),
        refund_waits_h(document) if first else [],
    )
