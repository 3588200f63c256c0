"""Order Management platform events → canonical events.

Platform events carry only what changed: ``OrderSummaryCreatedEvent`` that a summary exists,
``OrderSumStatusChangedEvent`` / ``FOStatusChangedEvent`` the old and new status, and
``ProcessExceptionEvent`` a failed payment operation. Events that restate a record's state use
the same ids as the record mapper (a fulfilment order reaching ``Pick Complete`` is one fact,
whether a record snapshot or the status event told it); ``EventUuid`` is the delivery's id.
"""

from __future__ import annotations

from typing import Any

from carriers.base import Collector, Problem, ProblemCode
from carriers.build import built
from carriers.decode import validate_item
from carriers.salesforce_om import codes
from carriers.salesforce_om.build import Context, instant
from carriers.salesforce_om.fields import at_path
from carriers.salesforce_om.fulfilment import add_fulfilment_step, fulfilment_step_kind
from carriers.salesforce_om.orders import add_order_cancelled
from carriers.salesforce_om.schema import PlatformEvent
from carriers.values import text
from wismo.events import EventKind

PLATFORM_EVENTS = frozenset(
    {
        "OrderSummaryCreatedEvent",
        "OrderSumStatusChangedEvent",
        "FOStatusChangedEvent",
        "ProcessExceptionEvent",
    }
)


def add_platform_event(
    collected: Collector, item: Any, ctx: Context, path: str, *, type_name: str
) -> None:
    event, problem = validate_item(item, PlatformEvent, path or None)
    if event is None:
        collected.note(problem)
        return
    order_id = event.OrderSummaryId or ctx.order_id
    if not order_id:
        collected.note(
            Problem(ProblemCode.INVALID, "missing OrderSummaryId", at_path(path, "OrderSummaryId"))
        )
        return
    # every platform event has CreatedDate; a relay that dropped it leaves wismo's clock
    at = instant(event.CreatedDate) or ctx.received_at
    if type_name == "OrderSummaryCreatedEvent":
        collected.add(
            built(
                lambda: ctx.event(
                    EventKind.ORDER_PLACED,
                    (order_id, "created event"),
                    order_id=order_id,
                    occurred_at=at,
                    payload={},
                ),
                path,
            )
        )
    elif type_name == "OrderSumStatusChangedEvent":
        if event.NewStatus in codes.CANCELLED_ORDER_STATUSES:
            add_order_cancelled(collected, ctx, order_id, at, path)
        else:
            _nothing_to_track(collected, f"order summary status {event.NewStatus!r}", path)
    elif type_name == "FOStatusChangedEvent":
        kind = fulfilment_step_kind(event.NewStatus, event.NewStatusCategory)
        if not event.FulfillmentOrderId:
            collected.note(
                Problem(
                    ProblemCode.INVALID,
                    "missing FulfillmentOrderId",
                    at_path(path, "FulfillmentOrderId"),
                )
            )
        elif kind is None or not event.NewStatus:
            _nothing_to_track(collected, f"fulfillment order status {event.NewStatus!r}", path)
        else:
            add_fulfilment_step(
                collected,
                ctx,
                kind,
                fulfilment_order_id=event.FulfillmentOrderId,
                order_id=order_id,
                status=event.NewStatus,
                at=at,
                path=path,
            )
    else:
        _add_process_exception(collected, event, ctx, order_id, path)


def _add_process_exception(
    collected: Collector, event: PlatformEvent, ctx: Context, order_id: str, path: str
) -> None:
    if (event.Category or "") not in codes.PAYMENT_EXCEPTION_CATEGORIES:
        _nothing_to_track(collected, f"process exception category {event.Category!r}", path)
        return
    payment_id = event.AttachedToId or order_id
    payload = {
        "payment_id": payment_id,
        "failure_reason": text(" — ".join(filter(None, (event.Message, event.Description)))),
    }
    key = (event.EventUuid or payment_id, event.CreatedDate, event.Message)
    at = instant(event.CreatedDate) or ctx.received_at
    collected.add(
        built(
            lambda: ctx.event(
                EventKind.PAYMENT_FAILED, key, order_id=order_id, occurred_at=at, payload=payload
            ),
            path,
        )
    )


def _nothing_to_track(collected: Collector, what: str, path: str) -> None:
    collected.note(
        Problem(ProblemCode.UNSUPPORTED, f"{what} states nothing the timeline tracks", path or None)
    )
