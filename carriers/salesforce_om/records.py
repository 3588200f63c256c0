"""Salesforce OM records → canonical events: which mapper reads which object.

Child relationships of an ``OrderSummary`` that its own mapper does not read (fulfilment orders,
shipments, return orders, payment summaries…) are records of their own that belong to the
summary's order.
"""

from __future__ import annotations

from typing import Any

from carriers.base import Collector, Problem, ProblemCode
from carriers.salesforce_om.build import Context
from carriers.salesforce_om.fields import Mapper, at_path
from carriers.salesforce_om.fulfilment import fulfilment_order, shipment
from carriers.salesforce_om.money import billing, payment_summary, return_order
from carriers.salesforce_om.orders import delivery_group, order_item_summary, order_summary
from wismo.events import EventKind

#: The child relationships each mapper reads itself; the others are walked as records.
READ_CHILDREN: dict[str, frozenset[str]] = {
    "OrderSummary": frozenset({"OrderItemSummaries", "OrderDeliveryGroupSummaries"}),
}

MAPPERS: dict[str, Mapper] = {
    "OrderSummary": order_summary,
    "OrderItemSummary": order_item_summary,
    "OrderDeliveryGroupSummary": delivery_group,
    "FulfillmentOrder": fulfilment_order,
    "Shipment": shipment,
    "ReturnOrder": return_order,
    "OrderPaymentSummary": payment_summary,
    "Invoice": billing(EventKind.PAYMENT_CAPTURED),
    "CreditMemo": billing(EventKind.REFUND_ISSUED),
}


def type_of(item: Any) -> str | None:
    """The object a record or platform event names in ``attributes.type``."""
    attributes = item.get("attributes") if isinstance(item, dict) else None
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    return type_name if isinstance(type_name, str) and type_name else None


def add_typed(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    """A record whose object is named in its own ``attributes.type``."""
    type_name = type_of(item)
    if type_name is None:
        collected.note(
            Problem(
                ProblemCode.INVALID,
                "a record must name its object in attributes.type",
                at_path(path, "attributes.type"),
            )
        )
        return
    add_record(collected, item, ctx, path, type_name=type_name)


def add_record(collected: Collector, item: Any, ctx: Context, path: str, *, type_name: str) -> None:
    mapper = MAPPERS.get(type_name)
    if mapper is None:
        collected.note(
            Problem(
                ProblemCode.UNSUPPORTED, f"{type_name} records carry no order data", path or None
            )
        )
        return
    mapper(collected, item, ctx, path)
    read = READ_CHILDREN.get(type_name)
    if read is None or not isinstance(item, dict) or not isinstance(item.get("Id"), str):
        return
    inner = Context(ctx.received_at, item["Id"])
    for name, value in item.items():
        if (
            name in read
            or not isinstance(value, dict)
            or not isinstance(value.get("records"), list)
        ):
            continue
        for index, child in enumerate(value["records"]):
            add_typed(collected, child, inner, at_path(path, f"{name}.records[{index}]"))
