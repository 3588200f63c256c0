"""Return orders, payment summaries, invoices and credit memos → return, payment and refund
events."""

from __future__ import annotations

from functools import partial
from typing import Any

from carriers.base import Collector
from carriers.build import built
from carriers.salesforce_om import codes
from carriers.salesforce_om.build import Context, instant, quantities
from carriers.salesforce_om.fields import Mapper, child_records, read_record
from carriers.salesforce_om.schema import (
    BillingDocument,
    OrderPaymentSummary,
    ReturnOrder,
    ReturnOrderLineItem,
)
from carriers.values import text
from wismo.events import EventKind


def return_order(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    read = read_record(collected, item, ReturnOrder, ctx, path)
    if read is None:
        return
    returned, order_id, at = read.record, read.order_id, read.at
    kind = codes.RETURN_STATUSES.get(returned.Status or "")
    lines: list[ReturnOrderLineItem] = child_records(
        collected, returned.ReturnOrderLineItems, ReturnOrderLineItem, path, "ReturnOrderLineItems"
    )
    if kind is None:
        return  # a draft or submitted return is a request: nothing authorized yet
    counted = [(line.OrderItemSummaryId, _returned_quantity(line, kind)) for line in lines]
    reasons = sorted({line.ReasonForReturn for line in lines if line.ReasonForReturn})
    payload = {
        "return_id": read.record_id,
        "lines": quantities(counted),
        "reason": text(", ".join(reasons)),
        "note": text(f"RMA {returned.ReturnOrderNumber}") if returned.ReturnOrderNumber else None,
    }
    return_id = read.record_id
    collected.add(
        built(
            lambda: ctx.event(
                kind, (return_id, kind.value), order_id=order_id, occurred_at=at, payload=payload
            ),
            path,
        )
    )


def _returned_quantity(line: ReturnOrderLineItem, kind: EventKind) -> Any:
    if kind is EventKind.RETURN_RECEIVED:
        for quantity in (line.QuantityReceived, line.QuantityReturned):
            if quantity:
                return quantity
    return line.QuantityExpected


def payment_summary(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    """Authorized amount; captured and refunded as steps (the summary's amounts are running
    totals, which the fold would add up again: amounts come from invoices and credit memos)."""
    read = read_record(collected, item, OrderPaymentSummary, ctx, path)
    if read is None:
        return
    summary, order_id, at = read.record, read.order_id, read.at
    created_at = instant(summary.CreatedDate)
    base = {
        "payment_id": read.record_id,
        "currency": summary.CurrencyIsoCode,
        "method": text(summary.Method or summary.Type),
    }
    steps = (
        (EventKind.PAYMENT_AUTHORIZED, summary.AuthorizationAmount, created_at or at, True),
        (EventKind.PAYMENT_CAPTURED, summary.CapturedAmount, at, False),
        (EventKind.PAYMENT_REFUNDED, summary.RefundedAmount, at, False),
    )
    payment_id = read.record_id
    for kind, amount, when, with_amount in steps:
        if amount is None or amount <= 0:
            continue
        payload = base | {"amount": amount if with_amount else None}
        make = partial(
            ctx.event,
            kind,
            (payment_id, kind.value),
            order_id=order_id,
            occurred_at=when,
            payload=payload,
        )
        collected.add(built(make, path))


def billing(kind: EventKind) -> Mapper:
    def add(collected: Collector, item: Any, ctx: Context, path: str) -> None:
        fields = ("OrderSummaryId", "ReferenceEntityId")
        read = read_record(collected, item, BillingDocument, ctx, path, fields)
        if read is None:
            return
        document, order_id, at = read.record, read.order_id, read.at
        if document.Status not in (None, "Posted"):
            return  # a draft states nothing yet
        total = (
            document.TotalAmountWithTax
            if document.TotalAmountWithTax is not None
            else document.TotalAmount
        )
        amount = abs(total) if total is not None else None
        if kind is EventKind.PAYMENT_CAPTURED:
            if document.Balance is None or document.Balance != 0:
                return  # an invoice is paid when nothing is left to pay
            payload: dict[str, Any] = {
                "payment_id": read.record_id,
                "amount": amount,
                "currency": document.CurrencyIsoCode,
            }
        else:
            payload = {
                "refund_id": read.record_id,
                "amount": amount,
                "currency": document.CurrencyIsoCode,
            }
        document_id = read.record_id
        make = partial(
            ctx.event, kind, (document_id,), order_id=order_id, occurred_at=at, payload=payload
        )
        collected.add(built(make, path))

    return add
