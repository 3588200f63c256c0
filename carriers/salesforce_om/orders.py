"""Order summaries, their item and delivery-group summaries → order events.

A summary states ``order.placed`` (its immutable identity, keyed by its Id) and, when it carries
``LastModifiedDate``, ``order.changed`` with everything it says at that instant, so an older
snapshot sorts before a newer one and never overrides it.

Quantities cancelled on an ``OrderItemSummary`` are cumulative, and the fold adds cancellations:
so the n-th cancelled unit of a line is its own event (keyed by n), and a snapshot with 2
cancelled after one with 1 adds exactly one more.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from carriers.base import Collector, Problem, ProblemCode
from carriers.build import built
from carriers.decode import validate_item
from carriers.masking import masked_address
from carriers.places import place
from carriers.salesforce_om import codes
from carriers.salesforce_om.build import Context, instant, modified_at, whole
from carriers.salesforce_om.fields import (
    at_path,
    child_records,
    note_missing,
    read_record,
)
from carriers.salesforce_om.schema import OrderDeliveryGroupSummary, OrderItemSummary, OrderSummary
from carriers.times import parse_date
from carriers.values import text
from wismo.events import EventKind
from wismo.vocab import Channel

#: More cancelled units than this on one line is not a real order line.
MAX_CANCELLED_UNITS = 1000


def order_summary(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    summary, problem = validate_item(item, OrderSummary, path or None)
    if summary is None:
        collected.note(problem)
        return
    if not summary.Id:
        note_missing(collected, path, Id=None)
        return
    order_id = summary.Id
    lines: list[OrderItemSummary] = child_records(
        collected, summary.OrderItemSummaries, OrderItemSummary, path, "OrderItemSummaries"
    )
    groups: list[OrderDeliveryGroupSummary] = child_records(
        collected,
        summary.OrderDeliveryGroupSummaries,
        OrderDeliveryGroupSummary,
        path,
        "OrderDeliveryGroupSummaries",
    )
    placed_at = instant(summary.OrderedDate) or instant(summary.CreatedDate)
    changed_at = modified_at(summary)
    if placed_at is None and changed_at is None:
        note_missing(collected, path, OrderedDate=None)
        return
    event = partial(ctx.event, order_id=order_id)
    identity = {
        "order_number": text(summary.OrderNumber, 128),
        "channel": _channel(summary.BusinessModel),
        "sales_channel": text(
            (summary.SalesChannel.SalesChannelName or summary.SalesChannel.Name)
            if summary.SalesChannel
            else None
        ),
        "placed_at": placed_at,
        "currency": summary.CurrencyIsoCode,
    }
    details = identity | {
        "total_amount": summary.GrandTotalAmount,
        "customer_email": text(summary.BillingEmailAddress, 320),
        "lines": [_line(line) for line in lines if _is_product(line)] or None,
        "delivery_groups": [_group(group, lines) for group in groups] or None,
    }
    if placed_at is not None:
        placed = identity if changed_at is not None else details
        collected.add(
            built(
                lambda: event(
                    EventKind.ORDER_PLACED, (order_id,), occurred_at=placed_at, payload=placed
                ),
                path,
            )
        )
    if changed_at is not None:
        collected.add(
            built(
                lambda: event(
                    EventKind.ORDER_CHANGED,
                    (order_id, changed_at),
                    occurred_at=changed_at,
                    payload=details,
                ),
                path,
            )
        )
    stated_at = changed_at or placed_at
    assert stated_at is not None  # one of them is known (checked above)
    if summary.Status in codes.CANCELLED_ORDER_STATUSES:
        add_order_cancelled(collected, ctx, order_id, stated_at, path)
    for index, line in enumerate(lines):
        where = at_path(path, f"OrderItemSummaries.records[{index}]")
        _add_cancelled_units(collected, line, order_id, modified_at(line) or stated_at, ctx, where)


def add_order_cancelled(
    collected: Collector, ctx: Context, order_id: str, at: datetime, path: str
) -> None:
    """The whole order cancelled (its summary's status, or the status-changed event)."""
    collected.add(
        built(
            lambda: ctx.event(
                EventKind.ORDER_CANCELLED,
                (order_id, "cancelled"),
                order_id=order_id,
                occurred_at=at,
                payload={},
            ),
            path,
        )
    )


def _channel(business_model: str | None) -> Channel | None:
    return {"B2C": Channel.B2C, "B2B": Channel.B2B}.get((business_model or "").upper())


def _is_product(line: OrderItemSummary) -> bool:
    """Delivery charges and fees are summary lines too, but nothing ships for them."""
    return (line.TypeCode or "Product") == "Product"


def _line(line: OrderItemSummary) -> dict[str, Any]:
    unit_price = line.UnitPrice if line.UnitPrice is not None and line.UnitPrice >= 0 else None
    fields = {
        "line_id": line.Id,
        "sku": text(line.StockKeepingUnit or line.ProductCode, 128),
        "name": text(line.Name or line.Description),
        "quantity": whole(
            line.QuantityOrdered if line.QuantityOrdered is not None else line.Quantity
        ),
        "unit_price": unit_price,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _group(group: OrderDeliveryGroupSummary, lines: list[OrderItemSummary]) -> dict[str, Any]:
    fields = {
        "group_id": group.Id,
        "method": text(group.OrderDeliveryMethod.Name) if group.OrderDeliveryMethod else None,
        "promised_delivery_date": parse_date(group.DesiredDeliveryDate),
        "destination": place(
            city=group.DeliverToCity,
            postal_code=group.DeliverToPostalCode,
            country=group.DeliverToCountryCode or group.DeliverToCountry,
        ),
        "address_masked": masked_address(
            name=group.DeliverToName,
            street=group.DeliverToStreet,
            postal_code=group.DeliverToPostalCode,
            city=group.DeliverToCity,
            country=group.DeliverToCountryCode or group.DeliverToCountry,
        ),
        "line_ids": [
            line.Id
            for line in lines
            if line.Id and _is_product(line) and line.OrderDeliveryGroupSummaryId == group.Id
        ]
        or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _add_cancelled_units(
    collected: Collector,
    line: OrderItemSummary,
    order_id: str,
    at: datetime,
    ctx: Context,
    path: str,
) -> None:
    cancelled = whole(line.QuantityCanceled) or 0
    if not line.Id or not cancelled:
        return
    if cancelled > MAX_CANCELLED_UNITS:
        collected.note(
            Problem(
                ProblemCode.INVALID,
                f"{cancelled} cancelled units",
                at_path(path, "QuantityCanceled"),
            )
        )
        return
    for unit in range(1, cancelled + 1):
        make = partial(
            ctx.event,
            EventKind.ORDER_CANCELLED,
            (line.Id, "cancelled unit", unit),
            order_id=order_id,
            occurred_at=at,
            payload={"lines": [{"line_id": line.Id, "quantity": 1}]},
        )
        collected.add(built(make, path))


def order_item_summary(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    read = read_record(collected, item, OrderItemSummary, ctx, path)
    if read is None:
        return
    line, line_id, order_id, at = read.record, read.record_id, read.order_id, read.at
    described = _line(line)
    if _is_product(line) and len(described) > 1:  # more than its id: a sparse update may not
        changed = {"lines": [described]}
        collected.add(
            built(
                lambda: ctx.event(
                    EventKind.ORDER_CHANGED,
                    (line_id, at),
                    order_id=order_id,
                    occurred_at=at,
                    payload=changed,
                ),
                path,
            )
        )
    _add_cancelled_units(collected, line, order_id, at, ctx, path)


def delivery_group(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    read = read_record(collected, item, OrderDeliveryGroupSummary, ctx, path)
    if read is None:
        return
    group, order_id, at = read.record, read.order_id, read.at
    changed = {"delivery_groups": [_group(group, [])]}
    collected.add(
        built(
            lambda: ctx.event(
                EventKind.ORDER_CHANGED,
                (read.record_id, at),
                order_id=order_id,
                occurred_at=at,
                payload=changed,
            ),
            path,
        )
    )
