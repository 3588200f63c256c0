"""Fulfilment orders and shipments → fulfilment steps, shipments and checkpoints."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from carriers.common import (
    Collector,
    built,
    checkpoint_event,
    parse_date,
    place,
    text,
    validate_item,
)
from carriers.salesforce_om.build import SOURCE_NAME, Context, instant, modified_at, quantities
from carriers.salesforce_om.codes import (
    DELIVERED,
    FULFILMENT_CATEGORIES,
    FULFILMENT_STATUSES,
    SHIPMENT_STATUSES,
)
from carriers.salesforce_om.fields import child_records, note_missing, order_of
from carriers.salesforce_om.schema import (
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    Shipment,
    ShipmentItem,
)
from carriers.shopify.codes import carrier_slug
from wismo.events import EventKind


def fulfilment_step_kind(status: str | None, category: str | None) -> EventKind | None:
    if status in FULFILMENT_STATUSES:
        return FULFILMENT_STATUSES[status]
    return FULFILMENT_CATEGORIES.get(category or "")


def add_fulfilment_step(
    collected: Collector,
    ctx: Context,
    kind: EventKind,
    *,
    fulfilment_order_id: str,
    order_id: str,
    status: str,
    at: datetime,
    path: str,
    warehouse: str | None = None,
) -> None:
    """A fulfilment order reaching ``status`` (from its record or ``FOStatusChangedEvent``)."""
    payload = {
        "fulfilment_order_id": fulfilment_order_id,
        "warehouse": warehouse,
        "reason": text(status) if kind is EventKind.FULFILMENT_REJECTED else None,
    }
    collected.add(
        built(
            lambda: ctx.event(
                kind,
                (fulfilment_order_id, status),
                order_id=order_id,
                occurred_at=at,
                payload=payload,
            ),
            path,
        )
    )


def fulfillment_order(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    order, problem = validate_item(item, FulfillmentOrder, path or None)
    if order is None:
        collected.note(problem)
        return
    order_id = order_of(order, ctx, "OrderSummaryId")
    created_at = instant(order.CreatedDate)
    changed_at = modified_at(order) or created_at
    if not order.Id or order_id is None or changed_at is None:
        note_missing(collected, path, Id=order.Id, OrderSummaryId=order_id, CreatedDate=changed_at)
        return
    location = order.FulfilledFromLocation
    warehouse = (
        text((location.ExternalReference or location.Name) if location else None, 128)
        or order.FulfilledFromLocationId
    )
    lines: list[FulfillmentOrderLineItem] = child_records(
        collected,
        order.FulfillmentOrderLineItems,
        FulfillmentOrderLineItem,
        path,
        "FulfillmentOrderLineItems",
    )
    created = {
        "fulfilment_order_id": order.Id,
        "delivery_group_id": order.OrderDeliveryGroupSummaryId,
        "warehouse": warehouse,
        "lines": quantities(
            [
                (
                    line.OrderItemSummaryId,
                    line.OriginalQuantity if line.OriginalQuantity is not None else line.Quantity,
                )
                for line in lines
                if (line.TypeCode or "Product") == "Product"
            ]
        ),
    }
    fulfilment_order_id = order.Id
    collected.add(
        built(
            lambda: ctx.event(
                EventKind.FULFILMENT_CREATED,
                (fulfilment_order_id, "created"),
                order_id=order_id,
                occurred_at=created_at or changed_at,
                payload=created,
            ),
            path,
        )
    )
    kind = fulfilment_step_kind(order.Status, order.StatusCategory)
    if kind is not None and order.Status:
        add_fulfilment_step(
            collected,
            ctx,
            kind,
            fulfilment_order_id=fulfilment_order_id,
            order_id=order_id,
            status=order.Status,
            at=changed_at,
            path=path,
            warehouse=warehouse,
        )


def shipment(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    shipment, problem = validate_item(item, Shipment, path or None)
    if shipment is None:
        collected.note(problem)
        return
    order_id = order_of(shipment, ctx, "OrderSummaryId")
    shipped_at = instant(shipment.CreatedDate)
    at = modified_at(shipment) or shipped_at
    if not shipment.Id or order_id is None or at is None:
        note_missing(collected, path, Id=shipment.Id, OrderSummaryId=order_id, CreatedDate=at)
        return
    items: list[ShipmentItem] = child_records(
        collected, shipment.ShipmentItems, ShipmentItem, path, "ShipmentItems"
    )
    number = "".join((shipment.TrackingNumber or "").split()).upper() or None
    carrier = carrier_slug(shipment.Provider)
    shipped = {
        "shipment_id": shipment.Id,
        "fulfilment_order_id": shipment.FulfillmentOrderId,
        "carrier": carrier,
        "service": text(shipment.DeliveryMethod.Name) if shipment.DeliveryMethod else None,
        "tracking_number": number,
        "tracking_url": text(shipment.TrackingUrl),
        "lines": quantities([(i.OrderItemSummaryId, i.Quantity) for i in items]),
        "carrier_edd": parse_date(shipment.ExpectedDeliveryDate),
        "shipped_at": shipped_at,
        "destination": place(
            city=shipment.ShipToCity,
            postal_code=shipment.ShipToPostalCode,
            country=shipment.ShipToCountryCode or shipment.ShipToCountry,
        ),
    }
    shipment_id = shipment.Id
    collected.add(
        built(
            lambda: ctx.event(
                EventKind.FULFILMENT_SHIPPED,
                (shipment_id, at),
                order_id=order_id,
                occurred_at=at,
                payload=shipped,
            ),
            path,
        )
    )
    if number is None:
        return
    delivered_at = instant(shipment.ActualDeliveryDate)
    if delivered_at is not None:
        (status, reason), raw_code, scanned_at = DELIVERED, "ActualDeliveryDate", delivered_at
    elif shipment.Status is not None and shipment.Status in SHIPMENT_STATUSES:
        (status, reason), raw_code, scanned_at = (
            SHIPMENT_STATUSES[shipment.Status],
            shipment.Status,
            at,
        )
    else:
        return
    collected.add(
        built(
            partial(
                checkpoint_event,
                SOURCE_NAME,
                tracking_number=number,
                occurred_at=scanned_at,
                status=status,
                reason=reason,
                raw_code=raw_code,
                message=None,
                location=None,
                carrier=carrier,
                estimated_delivery=None,
                received_at=ctx.received_at,
                order_id=order_id,
            ),
            path,
        )
    )
