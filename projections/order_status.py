"""Order-level facts derived from the folded parts: line quantities, data-quality notes and the
order status."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from projections.timeline_model import DataQualityNote, ShipmentView, Timeline
from wismo.vocab import (
    STATUS_RANK,
    TROUBLE_STATUSES,
    FulfilmentStatus,
    OrderStatus,
    PaymentStatus,
    ReturnStatus,
    TrackingStatus,
)

_IN_FLIGHT_STATUS: dict[TrackingStatus, OrderStatus] = {
    TrackingStatus.IN_TRANSIT: OrderStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: OrderStatus.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP: OrderStatus.AVAILABLE_FOR_PICKUP,
}
_CLOSED_FULFILMENT = frozenset({FulfilmentStatus.REJECTED, FulfilmentStatus.CANCELLED})


def shipped_lines(timeline: Timeline, shipment: ShipmentView) -> dict[str, int]:
    """The lines a shipment carries: its own list, else its fulfilment order's."""
    if shipment.lines:
        return shipment.lines
    for fulfilment in timeline.fulfilment_orders:
        if fulfilment.fulfilment_order_id == shipment.fulfilment_order_id:
            return fulfilment.lines
    return {}


def line_accounting(timeline: Timeline) -> None:
    """Shipped and returned quantities per order line, counted afresh on every call."""
    lines = {line.line_id: line for line in timeline.lines}
    for line in timeline.lines:
        line.shipped_quantity = line.returned_quantity = 0
    for shipment in timeline.shipments:
        for line_id, quantity in shipped_lines(timeline, shipment).items():
            if line_id in lines:
                lines[line_id].shipped_quantity += quantity
    for returned in timeline.returns:
        if returned.status is ReturnStatus.RECEIVED:
            for line_id, quantity in returned.lines.items():
                if line_id in lines:
                    lines[line_id].returned_quantity += quantity


#: the data-quality code of a fulfilment order or shipment naming a line the order does not list
UNKNOWN_LINE = "unknown_line"

LineReference = tuple[str, str, str]
"""(``fulfilment_order`` or ``shipment``, its id, the line id it names)."""


def unknown_lines(
    ordered: Collection[str], references: Mapping[LineReference, Collection[str]]
) -> list[DataQualityNote]:
    """A note per fulfilment order or shipment line that is not among the ``ordered`` line ids.

    ``references`` maps each line named by a fulfilment order or shipment to the ids of the
    events naming it. Nothing is judged until the order's own events list its lines (the order
    may arrive after its fulfilment), so the notes depend only on the set of events folded.
    """
    if not ordered:
        return []
    notes = []
    for (kind, subject, line_id), event_ids in sorted(references.items()):
        if line_id not in ordered:
            message = f"{kind.replace('_', ' ')} {subject} names line {line_id}, not on the order"
            notes.append(
                DataQualityNote(UNKNOWN_LINE, subject, line_id, message, sorted(event_ids))
            )
    return notes


def _all_lines_cancelled(timeline: Timeline) -> bool:
    if timeline.cancelled:
        return True
    known = [line for line in timeline.lines if line.quantity is not None]
    return bool(known) and all(line.cancelled_quantity >= (line.quantity or 0) for line in known)


def _all_shipped(timeline: Timeline) -> bool:
    known = [line for line in timeline.lines if line.quantity is not None]
    has_line_detail = any(shipped_lines(timeline, s) for s in timeline.shipments)
    if known and has_line_detail:
        return all(
            line.shipped_quantity >= (line.quantity or 0) - line.cancelled_quantity
            for line in known
        )
    open_fulfilment = [f for f in timeline.fulfilment_orders if f.status not in _CLOSED_FULFILMENT]
    return all(f.status is FulfilmentStatus.SHIPPED for f in open_fulfilment)


def _refunded(timeline: Timeline) -> bool:
    if any(refund.full for refund in timeline.refunds):
        return True
    total = timeline.total_amount
    refunded = sum((r.amount for r in timeline.refunds if r.amount is not None), start=0)
    if total is not None and total > 0 and refunded >= total:
        return True
    captured = sum(p.captured_amount for p in timeline.payments)
    paid_back = sum(p.refunded_amount for p in timeline.payments)
    return (
        captured > 0
        and paid_back >= captured
        and any(p.status is PaymentStatus.REFUNDED for p in timeline.payments)
    )


def _returned(timeline: Timeline) -> bool:
    received = [r for r in timeline.returns if r.status is ReturnStatus.RECEIVED]
    if not received:
        return False
    if any(not r.lines for r in received):
        return True  # a return that names no lines is a return of the whole order
    shipped = [line for line in timeline.lines if line.shipped_quantity > 0]
    return bool(shipped) and all(
        line.returned_quantity >= line.shipped_quantity for line in shipped
    )


def derive_order_status(timeline: Timeline) -> OrderStatus:
    """One word for where the whole order stands (see docs/contracts.md for the rules)."""
    shipments = timeline.shipments
    if _all_lines_cancelled(timeline) and not shipments:
        return OrderStatus.CANCELLED
    if _refunded(timeline):
        return OrderStatus.REFUNDED
    if _returned(timeline):
        return OrderStatus.RETURNED
    if not shipments:
        return OrderStatus.PROCESSING if timeline.fulfilment_orders else OrderStatus.PLACED
    undelivered = [s for s in shipments if s.status is not TrackingStatus.DELIVERED]
    if any(s.status in TROUBLE_STATUSES for s in undelivered):
        return OrderStatus.EXCEPTION
    all_shipped = _all_shipped(timeline)
    if not undelivered:
        return OrderStatus.DELIVERED if all_shipped else OrderStatus.PARTIALLY_DELIVERED
    if len(undelivered) < len(shipments):
        return OrderStatus.PARTIALLY_DELIVERED
    if not all_shipped:
        return OrderStatus.PARTIALLY_SHIPPED
    least = min(undelivered, key=lambda s: STATUS_RANK[s.status])
    return _IN_FLIGHT_STATUS.get(least.status, OrderStatus.SHIPPED)


def link_promises(timeline: Timeline) -> None:
    """Give each shipment (and fulfilment order) the promise of its delivery group."""
    groups = {group.group_id: group for group in timeline.delivery_groups}
    only_group = next(iter(groups.values())) if len(groups) == 1 else None
    fulfilment = {f.fulfilment_order_id: f for f in timeline.fulfilment_orders}
    for fulfilment_order in fulfilment.values():
        group = groups.get(fulfilment_order.delivery_group_id or "", only_group)
        if fulfilment_order.ship_by is None and group is not None:
            fulfilment_order.ship_by = group.ship_by
    for shipment in timeline.shipments:
        source = fulfilment.get(shipment.fulfilment_order_id or "")
        if source is not None and source.delivery_group_id is not None:
            shipment.delivery_group_id = source.delivery_group_id
        group = groups.get(shipment.delivery_group_id or "", only_group)
        promised = group.promised_delivery_date if group is not None else None
        shipment.promised_delivery_date = promised or timeline.promised_delivery_date
