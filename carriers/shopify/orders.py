"""Shopify orders, refunds and returns → order, payment, refund and return events.

An order body is a full snapshot. ``orders/create`` states ``order.placed``; every other order
topic states ``order.changed`` at the order's ``updated_at`` (its id includes that instant), so an
older snapshot delivered late sorts before a newer one and never overrides it. A snapshot also
states what it contains: the cancellation, the payment step of ``financial_status``, and its
fulfilments and refunds (with the same ids as their own topics, so they collapse).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from carriers.base import Collector, Headers, Problem, ProblemCode
from carriers.build import built
from carriers.decode import validate_item
from carriers.masking import masked_address
from carriers.places import place
from carriers.shopify import codes
from carriers.shopify.build import instant, positive_lines, shopify_event
from carriers.shopify.fulfilments import add_fulfilment
from carriers.shopify.schema import Order, Refund, Return, Transaction
from carriers.values import text
from wismo.events import EventKind
from wismo.vocab import Channel

TRIGGERED_AT_HEADER = "x-shopify-triggered-at"


def order_events(body: Any, topic: str, received_at: datetime) -> Collector:
    collected = Collector()
    order, problem = validate_item(body, Order, None)
    if order is None:
        collected.note(problem)
        return collected
    created_at = instant(order.created_at)
    updated_at = instant(order.updated_at)
    event = partial(shopify_event, order_id=order.id, received_at=received_at)
    key: tuple[object, ...]
    if topic == "orders/create":
        kind, key, stated_at = EventKind.ORDER_PLACED, (order.id,), created_at or updated_at
    else:
        # a field-filtered subscription (include_fields) sends less of the same snapshot: the
        # fields it carries are part of the id, so it never stands in for the full body
        fields = ",".join(sorted(order.model_fields_set))
        kind, key, stated_at = EventKind.ORDER_CHANGED, (order.id, updated_at, fields), updated_at
    if stated_at is None:
        missing = "created_at" if kind is EventKind.ORDER_PLACED else "updated_at"
        collected.note(Problem(ProblemCode.INVALID, f"missing {missing}", missing))
        return collected
    at = stated_at
    placed_at = instant(order.processed_at) or created_at
    details = _details(order, placed_at)
    if kind is EventKind.ORDER_PLACED or any(v is not None for v in details.values()):
        collected.add(built(lambda: event(kind, key, occurred_at=at, payload=details), ""))
    cancelled_at = instant(order.cancelled_at)
    if cancelled_at is not None:
        reason = {"reason": text(order.cancel_reason)}
        collected.add(
            built(
                lambda: event(
                    EventKind.ORDER_CANCELLED, (order.id,), occurred_at=cancelled_at, payload=reason
                ),
                "cancelled_at",
            )
        )
    payment_kind = codes.FINANCIAL_STATUSES.get(order.financial_status or "")
    if payment_kind is not None:
        payment = {
            "payment_id": order.id,
            "amount": _amount(order.total_price),
            "currency": order.currency,
            "method": ", ".join(order.payment_gateway_names or ()) or None,
        }
        collected.add(
            built(
                # financial_status says which step, not when: dated at checkout, the same step
                # stated by several snapshots is one event with one content
                lambda: event(
                    payment_kind, (order.id,), occurred_at=placed_at or at, payload=payment
                ),
                "financial_status",
            )
        )
    for index, fulfilment in enumerate(order.fulfillments or ()):
        add_fulfilment(collected, fulfilment, order.id, received_at, f"fulfillments[{index}]")
    for index, refund in enumerate(order.refunds or ()):
        add_refund(collected, refund, order.id, received_at, f"refunds[{index}]")
    return collected


def _details(order: Order, placed_at: datetime | None) -> dict[str, Any]:
    lines = [
        {
            "line_id": line.id,
            "sku": text(line.sku, 128),
            "name": text(line.name or line.title),
            "quantity": line.quantity,
            "unit_price": _amount(line.price),
        }
        for line in order.line_items or ()
    ]
    email = order.email or order.contact_email or (order.customer and order.customer.email)
    return {
        "order_number": text((order.name or "").lstrip("#"), 128) or order.order_number,
        "channel": _channel(order),
        "sales_channel": text(order.source_name),
        "placed_at": placed_at,
        "currency": order.currency,
        "total_amount": _amount(order.total_price),
        "customer_email": text(email, 320),
        "lines": [{k: v for k, v in line.items() if v is not None} for line in lines] or None,
        "delivery_groups": _delivery_groups(order),
    }


def _channel(order: Order) -> Channel | None:
    """B2B orders carry their company; a body that leaves ``company`` out says nothing."""
    if order.company:
        return Channel.B2B
    return Channel.B2C if "company" in order.model_fields_set else None


def _delivery_groups(order: Order) -> list[dict[str, Any]] | None:
    """Shopify ships an order to one address: one group, named after its shipping line."""
    shipping = next(iter(order.shipping_lines or ()), None)
    address = order.shipping_address
    if shipping is None and address is None:
        return None
    destination = masked = None
    if address is not None:
        destination = place(
            city=address.city, postal_code=address.zip, country=address.country_code
        )
        masked = masked_address(
            first_name=address.first_name,
            last_name=address.last_name,
            name=address.name,
            street=address.address1,
            postal_code=address.zip,
            city=address.city,
            country=address.country_code or address.country,
        )
    group = {
        "group_id": (shipping.id if shipping else None) or "shipping",
        "method": text(shipping.title or shipping.code) if shipping else None,
        "destination": destination,
        "line_ids": _shipped_line_ids(order),
        "address_masked": masked,
    }
    return [{k: v for k, v in group.items() if v is not None}]


def _shipped_line_ids(order: Order) -> list[str] | None:
    if order.line_items is None:
        return None  # a body without its lines says nothing about which of them ship
    return [line.id for line in order.line_items if line.requires_shipping is not False]


def _amount(value: str | None) -> Decimal | None:
    try:
        amount = Decimal(value) if value is not None else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() and amount >= 0 else None


# ---------------------------------------------------------------------------------------------
# Refunds


def add_refund(
    collected: Collector, item: Any, order_id: str | None, received_at: datetime, path: str
) -> None:
    """``refund.issued`` with the refunded amount, ``payment.refunded`` per successful refund
    transaction, and ``order.cancelled`` for lines refunded as cancelled."""
    refund, problem = validate_item(item, Refund, path or None)
    if refund is None:
        collected.note(problem)
        return
    where = f"{path}." if path else ""
    order_id = refund.order_id or order_id
    refunded_at = instant(refund.processed_at) or instant(refund.created_at)
    if order_id is None or refunded_at is None:
        missing = "order_id" if order_id is None else "created_at"
        collected.note(Problem(ProblemCode.INVALID, f"missing {missing}", f"{where}{missing}"))
        return
    event = partial(shopify_event, order_id=order_id, received_at=received_at)
    paid_back = [t for t in refund.transactions or () if _succeeded_refund(t)]
    amounts = [a for a in (_amount(t.amount) for t in paid_back) if a is not None]
    returned_lines = [li for li in _lines(refund) if li.restock_type != "cancel"]
    issued = {
        "refund_id": refund.id,
        "amount": sum(amounts, Decimal(0)) if amounts else None,
        "currency": next((t.currency for t in paid_back if t.currency), None),
        "return_id": refund.linked_return.id if refund.linked_return else None,
        "lines": positive_lines([(li.line_item_id, li.quantity) for li in returned_lines]),
    }
    # a refund object that only cancels unfulfilled lines gave nothing back: no refund.issued
    if amounts or returned_lines:
        collected.add(
            built(
                lambda: event(
                    EventKind.REFUND_ISSUED, (refund.id,), occurred_at=refunded_at, payload=issued
                ),
                path,
            )
        )
    for transaction in paid_back:
        _add_refund_transaction(collected, transaction, order_id, refunded_at, received_at, path)
    cancelled = [li for li in _lines(refund) if li.restock_type == "cancel"]
    lines = positive_lines([(li.line_item_id, li.quantity) for li in cancelled])
    if lines:
        collected.add(
            built(
                lambda: event(
                    EventKind.ORDER_CANCELLED,
                    (refund.id, "lines"),
                    occurred_at=refunded_at,
                    payload={"lines": lines},
                ),
                f"{where}refund_line_items",
            )
        )


def _lines(refund: Refund) -> Iterable[Any]:
    return refund.refund_line_items or ()


def _succeeded_refund(transaction: Transaction) -> bool:
    return transaction.kind == "refund" and transaction.status in (None, "success")


def _add_refund_transaction(
    collected: Collector,
    transaction: Transaction,
    order_id: str,
    refunded_at: datetime,
    received_at: datetime,
    path: str,
) -> None:
    payload = {
        "payment_id": order_id,
        "amount": _amount(transaction.amount),
        "currency": transaction.currency,
        "method": text(transaction.gateway),
        "processor_reference": text(transaction.authorization),
    }
    at = instant(transaction.processed_at) or instant(transaction.created_at) or refunded_at
    collected.add(
        built(
            lambda: shopify_event(
                EventKind.PAYMENT_REFUNDED,
                (transaction.id,),
                order_id=order_id,
                occurred_at=at,
                received_at=received_at,
                payload=payload,
            ),
            path,
        )
    )


# ---------------------------------------------------------------------------------------------
# Returns


def return_events(body: Any, topic: str, headers: Headers, received_at: datetime) -> Collector:
    """A ``returns/*`` body. Return bodies carry no timestamp: the step happened when Shopify
    triggered the webhook (``X-Shopify-Triggered-At``), else when it arrived."""
    collected = Collector()
    kind = codes.RETURN_TOPICS.get(topic)
    if kind is None:
        collected.note(
            Problem(ProblemCode.UNSUPPORTED, f"{topic} states no return step wismo tracks")
        )
        return collected
    returned, problem = validate_item(body, Return, None)
    if returned is None:
        collected.note(problem)
        return collected
    order_id = returned.order.id if returned.order else returned.order_id
    if order_id is None:
        collected.note(Problem(ProblemCode.INVALID, "missing the order", "order"))
        return collected
    reasons = sorted(
        {li.return_reason for li in returned.return_line_items or () if li.return_reason}
    )
    if kind is EventKind.RETURN_REJECTED:
        reasons = [(returned.decline.reason if returned.decline else None) or topic.split("/")[1]]
    payload = {
        "return_id": returned.id,
        "lines": positive_lines(
            [(li.line_item_id, li.quantity) for li in returned.return_line_items or ()]
        ),
        "reason": text(", ".join(reasons)),
        "note": text(f"return {returned.name}") if returned.name else None,
    }
    at = instant(headers.get(TRIGGERED_AT_HEADER)) or received_at
    collected.add(
        built(
            lambda: shopify_event(
                kind,
                (returned.id, topic),
                order_id=order_id,
                occurred_at=at,
                received_at=received_at,
                payload=payload,
            ),
            "",
        )
    )
    return collected
