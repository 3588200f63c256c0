"""Fulfilment orders and shipments → fulfilment steps, shipments and checkpoints."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from carriers.base import Collector
from carriers.build import built, checkpoint_event
from carriers.detect import carrier_slug
from carriers.places import place
from carriers.salesforce_om import codes
from carriers.salesforce_om.build import SOURCE_NAME, Context, instant, quantities
from carriers.salesforce_om.fields import child_records, read_record
from carriers.salesforce_om.schema import (
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    Shipment,
    ShipmentItem,
)
from carriers.times import parse_date
from carriers.values import text, tracking_number
from wismo.events import EventKind


def fulfilment_step_kind(status: str | None, category: str | None) -> EventKind | None:
    if status in codes.FULFILMENT_STATUSES:
        return codes.FULFILMENT_STATUSES[status]
    return codes.FULFILMENT_CATEGORIES.get(category or "")


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


def fulfilment_order(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    read = read_record(collected, item, FulfillmentOrder, ctx, path)
    if read is None:
        return
    order, order_id, changed_at = read.record, read.order_id, read.at
    created_at = instant(order.CreatedDate)
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
        "fulfilment_order_id": read.record_id,
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
    fulfilment_order_id = read.record_id
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
    read = read_record(collected, item, Shipment, ctx, path)
    if read is None:
        return
    shipment, order_id, at = read.record, read.order_id, read.at
    shipped_at = instant(shipment.CreatedDate)
    items: list[ShipmentItem] = child_records(
        collected, shipment.ShipmentItems, ShipmentItem, path, "ShipmentItems"
    )
    number = tracking_number(shipment.TrackingNumber)
    carrier = carrier_slug(shipment.Provider)
    shipped = {
        "shipment_id": read.record_id,
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
    shipment_id = read.record_id
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
        (status, reason), raw_code, scanned_at = codes.DELIVERED, "ActualDeliveryDate", delivered_at
    elif shipment.Status is not None and shipment.Status in codes.SHIPMENT_STATUSES:
        (status, reason), raw_code, scanned_at = (
            codes.SHIPMENT_STATUSES[shipment.Status],
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
