"""Return orders, payment summaries, invoices and credit memos → return, payment and refund
events."""

from __future__ import annotations

from functools import partial
from typing import Any

from carriers.common import Collector, built, text, validate_item
from carriers.salesforce_om.build import Context, instant, modified_at, quantities
from carriers.salesforce_om.codes import RETURN_STATUSES
from carriers.salesforce_om.fields import Mapper, child_records, note_missing, order_of
from carriers.salesforce_om.schema import (
    BillingDocument,
    OrderPaymentSummary,
    ReturnOrder,
    ReturnOrderLineItem,
)
from wismo.events import EventKind


def return_order(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    returned, problem = validate_item(item, ReturnOrder, path or None)
    if returned is None:
        collected.note(problem)
        return
    kind = RETURN_STATUSES.get(returned.Status or "")
    order_id = order_of(returned, ctx, "OrderSummaryId")
    at = modified_at(returned) or instant(returned.CreatedDate)
    if not returned.Id or order_id is None or at is None:
        note_missing(collected, path, Id=returned.Id, OrderSummaryId=order_id, LastModifiedDate=at)
        return
    lines: list[ReturnOrderLineItem] = child_records(
        collected, returned.ReturnOrderLineItems, ReturnOrderLineItem, path, "ReturnOrderLineItems"
    )
    if kind is None:
        return  # a draft or submitted return is a request: nothing authorized yet
    counted = [(line.OrderItemSummaryId, _returned_quantity(line, kind)) for line in lines]
    reasons = sorted({line.ReasonForReturn for line in lines if line.ReasonForReturn})
    payload = {
        "return_id": returned.Id,
        "lines": quantities(counted),
        "reason": text(", ".join(reasons)),
        "note": text(f"RMA {returned.ReturnOrderNumber}") if returned.ReturnOrderNumber else None,
    }
    return_id = returned.Id
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
    summary, problem = validate_item(item, OrderPaymentSummary, path or None)
    if summary is None:
        collected.note(problem)
        return
    order_id = order_of(summary, ctx, "OrderSummaryId")
    created_at = instant(summary.CreatedDate)
    at = modified_at(summary) or created_at
    if not summary.Id or order_id is None or at is None:
        note_missing(collected, path, Id=summary.Id, OrderSummaryId=order_id, CreatedDate=at)
        return
    base = {
        "payment_id": summary.Id,
        "currency": summary.CurrencyIsoCode,
        "method": text(summary.Method or summary.Type),
    }
    steps = (
        (EventKind.PAYMENT_AUTHORIZED, summary.AuthorizationAmount, created_at or at, True),
        (EventKind.PAYMENT_CAPTURED, summary.CapturedAmount, at, False),
        (EventKind.PAYMENT_REFUNDED, summary.RefundedAmount, at, False),
    )
    payment_id = summary.Id
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
        document, problem = validate_item(item, BillingDocument, path or None)
        if document is None:
            collected.note(problem)
            return
        order_id = order_of(document, ctx, "OrderSummaryId", "ReferenceEntityId")
        at = modified_at(document) or instant(document.CreatedDate)
        if not document.Id or order_id is None or at is None:
            note_missing(
                collected, path, Id=document.Id, ReferenceEntityId=order_id, CreatedDate=at
            )
            return
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
                "payment_id": document.Id,
                "amount": amount,
                "currency": document.CurrencyIsoCode,
            }
        else:
            payload = {
                "refund_id": document.Id,
                "amount": amount,
                "currency": document.CurrencyIsoCode,
            }
        document_id = document.Id
        make = partial(
            ctx.event, kind, (document_id,), order_id=order_id, occurred_at=at, payload=payload
        )
        collected.add(built(make, path))

    return add
