"""The canonical event envelope: every fact from every source becomes one of these.

An :data:`Event` is a discriminated union on ``kind``; each member fixes the payload type, so
``event.payload`` is always the right model. Decode with :func:`parse_event` (bytes or str) and
encode with :func:`dump_event`, which is canonical: the same event always gives the same bytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from wismo.payloads import (
    CancelRequest,
    Contract,
    CustomerMessaged,
    EddRevised,
    ExceptionAssigned,
    ExceptionCaseOpened,
    ExceptionEscalated,
    ExceptionOpened,
    ExceptionTransition,
    FulfilmentCreated,
    FulfilmentShipped,
    FulfilmentStep,
    Identifier,
    NoteAdded,
    OrderCancelled,
    OrderChanged,
    OrderPlaced,
    PaymentEvent,
    ProblemReported,
    RefundIssued,
    ReturnEvent,
    ShipmentLinked,
    ShipmentPredicted,
    TrackingCheckpoint,
    TrackingNumber,
    UtcDatetime,
)

SCHEMA_VERSION = 1


class EventKind(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_CHANGED = "order.changed"
    ORDER_CANCELLED = "order.cancelled"
    FULFILMENT_CREATED = "fulfilment.created"
    FULFILMENT_ALLOCATED = "fulfilment.allocated"
    FULFILMENT_PICKED = "fulfilment.picked"
    FULFILMENT_PACKED = "fulfilment.packed"
    FULFILMENT_SHIPPED = "fulfilment.shipped"
    FULFILMENT_REJECTED = "fulfilment.rejected"
    FULFILMENT_BACKORDERED = "fulfilment.backordered"
    TRACKING_CHECKPOINT = "tracking.checkpoint"
    EDD_REVISED = "edd.revised"
    PAYMENT_AUTHORIZED = "payment.authorized"
    PAYMENT_CAPTURED = "payment.captured"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"
    PAYMENT_SETTLED = "payment.settled"
    RETURN_REQUESTED = "return.requested"
    RETURN_AUTHORIZED = "return.authorized"
    RETURN_IN_TRANSIT = "return.in_transit"
    RETURN_RECEIVED = "return.received"
    RETURN_REJECTED = "return.rejected"
    REFUND_ISSUED = "refund.issued"
    EXCEPTION_OPENED = "exception.opened"
    EXCEPTION_ACKNOWLEDGED = "exception.acknowledged"
    EXCEPTION_RESOLVED = "exception.resolved"
    SHIPMENT_PREDICTED = "shipment.predicted"
    SHIPMENT_LINKED = "shipment.linked"
    PROBLEM_REPORTED = "problem.reported"
    CANCEL_REQUESTED = "cancel.requested"
    CANCEL_CONFIRMED = "cancel.confirmed"
    CANCEL_REJECTED = "cancel.rejected"
    EXCEPTION_ASSIGNED = "exception.assigned"
    EXCEPTION_ESCALATED = "exception.escalated"
    EXCEPTION_CASE_OPENED = "exception.case_opened"
    NOTE_ADDED = "note.added"
    CUSTOMER_MESSAGED = "customer.messaged"

    @property
    def family(self) -> str:
        return self.value.split(".", 1)[0]


#: Kinds that describe a parcel rather than an order: they may arrive before the order is known.
TRACKING_KINDS = frozenset({EventKind.TRACKING_CHECKPOINT, EventKind.EDD_REVISED})

SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,39}$")]
EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
]


class Envelope(Contract):
    """Fields every event carries, whatever its kind."""

    event_id: EventId = Field(description="Deterministic: the source's id or a natural-key hash.")
    source: SourceName = Field(description="Where the event came from: ups, shopify, oms…")
    order_id: Identifier | None = Field(
        default=None, description="Unknown for a carrier scan until it is linked to its order."
    )
    tracking_number: TrackingNumber | None = None
    occurred_at: UtcDatetime = Field(description="When it happened, per the source (UTC).")
    received_at: UtcDatetime | None = Field(default=None, description="When wismo received it.")
    seq: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="The source's own sequence number, where it has one."
    )
    schema_version: Literal[1] = 1
    raw_ref: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="Where the raw payload is kept (topic/partition/offset, key…)."
    )

    @model_validator(mode="after")
    def _keys_for_kind(self) -> Self:
        kind: EventKind = getattr(self, "kind")  # noqa: B009 - declared on every subclass
        if kind in TRACKING_KINDS:
            if self.tracking_number is None:
                raise ValueError(f"{kind} needs a tracking_number")
        elif self.order_id is None:
            raise ValueError(f"{kind} needs an order_id")
        return self


class OrderPlacedEvent(Envelope):
    kind: Literal[EventKind.ORDER_PLACED]
    payload: OrderPlaced


class OrderChangedEvent(Envelope):
    kind: Literal[EventKind.ORDER_CHANGED]
    payload: OrderChanged


class OrderCancelledEvent(Envelope):
    kind: Literal[EventKind.ORDER_CANCELLED]
    payload: OrderCancelled


class FulfilmentCreatedEvent(Envelope):
    kind: Literal[EventKind.FULFILMENT_CREATED]
    payload: FulfilmentCreated


class FulfilmentStepEvent(Envelope):
    kind: Literal[
        EventKind.FULFILMENT_ALLOCATED,
        EventKind.FULFILMENT_PICKED,
        EventKind.FULFILMENT_PACKED,
        EventKind.FULFILMENT_REJECTED,
        EventKind.FULFILMENT_BACKORDERED,
    ]
    payload: FulfilmentStep


class FulfilmentShippedEvent(Envelope):
    kind: Literal[EventKind.FULFILMENT_SHIPPED]
    payload: FulfilmentShipped


class TrackingCheckpointEvent(Envelope):
    kind: Literal[EventKind.TRACKING_CHECKPOINT]
    payload: TrackingCheckpoint


class EddRevisedEvent(Envelope):
    kind: Literal[EventKind.EDD_REVISED]
    payload: EddRevised


class ShipmentPredictedEvent(Envelope):
    kind: Literal[EventKind.SHIPMENT_PREDICTED]
    payload: ShipmentPredicted


class PaymentEventEnvelope(Envelope):
    kind: Literal[
        EventKind.PAYMENT_AUTHORIZED,
        EventKind.PAYMENT_CAPTURED,
        EventKind.PAYMENT_FAILED,
        EventKind.PAYMENT_REFUNDED,
        EventKind.PAYMENT_SETTLED,
    ]
    payload: PaymentEvent


class ReturnEventEnvelope(Envelope):
    kind: Literal[
        EventKind.RETURN_REQUESTED,
        EventKind.RETURN_AUTHORIZED,
        EventKind.RETURN_IN_TRANSIT,
        EventKind.RETURN_RECEIVED,
        EventKind.RETURN_REJECTED,
    ]
    payload: ReturnEvent


class RefundIssuedEvent(Envelope):
    kind: Literal[EventKind.REFUND_ISSUED]
    payload: RefundIssued


class ExceptionOpenedEvent(Envelope):
    kind: Literal[EventKind.EXCEPTION_OPENED]
    payload: ExceptionOpened


class ExceptionTransitionEvent(Envelope):
    kind: Literal[EventKind.EXCEPTION_ACKNOWLEDGED, EventKind.EXCEPTION_RESOLVED]
    payload: ExceptionTransition


class ShipmentLinkedEvent(Envelope):
    kind: Literal[EventKind.SHIPMENT_LINKED]
    payload: ShipmentLinked

    @model_validator(mode="after")
    def _names_its_number(self) -> Self:
        if self.tracking_number not in (None, self.payload.tracking_number):
            raise ValueError("tracking_number must be the payload's tracking_number")
        return self


class ProblemReportedEvent(Envelope):
    kind: Literal[EventKind.PROBLEM_REPORTED]
    payload: ProblemReported


class CancelRequestEvent(Envelope):
    kind: Literal[EventKind.CANCEL_REQUESTED, EventKind.CANCEL_CONFIRMED, EventKind.CANCEL_REJECTED]
    payload: CancelRequest


class ExceptionAssignedEvent(Envelope):
    kind: Literal[EventKind.EXCEPTION_ASSIGNED]
    payload: ExceptionAssigned


class ExceptionEscalatedEvent(Envelope):
    kind: Literal[EventKind.EXCEPTION_ESCALATED]
    payload: ExceptionEscalated


class ExceptionCaseOpenedEvent(Envelope):
    kind: Literal[EventKind.EXCEPTION_CASE_OPENED]
    payload: ExceptionCaseOpened


class NoteAddedEvent(Envelope):
    kind: Literal[EventKind.NOTE_ADDED]
    payload: NoteAdded


class CustomerMessagedEvent(Envelope):
    kind: Literal[EventKind.CUSTOMER_MESSAGED]
    payload: CustomerMessaged


#: Kinds people cause through the API (customers on /track, agents in the console): each is
#: the audit record of the action — who (``by``, or the customer), when, what.
ACTION_KINDS = frozenset(
    {
        EventKind.PROBLEM_REPORTED,
        EventKind.RETURN_REQUESTED,
        EventKind.CANCEL_REQUESTED,
        EventKind.EXCEPTION_ACKNOWLEDGED,
        EventKind.EXCEPTION_RESOLVED,
        EventKind.EXCEPTION_ASSIGNED,
        EventKind.EXCEPTION_ESCALATED,
        EventKind.NOTE_ADDED,
        EventKind.CUSTOMER_MESSAGED,
        EventKind.SHIPMENT_LINKED,
    }
)


Event = Annotated[
    OrderPlacedEvent
    | OrderChangedEvent
    | OrderCancelledEvent
    | FulfilmentCreatedEvent
    | FulfilmentStepEvent
    | FulfilmentShippedEvent
    | TrackingCheckpointEvent
    | EddRevisedEvent
    | ShipmentPredictedEvent
    | PaymentEventEnvelope
    | ReturnEventEnvelope
    | RefundIssuedEvent
    | ExceptionOpenedEvent
    | ExceptionTransitionEvent
    | ShipmentLinkedEvent
    | ProblemReportedEvent
    | CancelRequestEvent
    | ExceptionAssignedEvent
    | ExceptionEscalatedEvent
    | ExceptionCaseOpenedEvent
    | NoteAddedEvent
    | CustomerMessagedEvent,
    Field(discriminator="kind"),
]
"""Any canonical event."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(title="Event"))
_EVENT_LIST_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(
    list[Event], config=ConfigDict(title="Events")
)


def parse_event(data: bytes | str) -> Event:
    """Decode one canonical event from JSON; raises :class:`pydantic.ValidationError`."""
    return EVENT_ADAPTER.validate_json(data)


def parse_events(data: bytes | str) -> list[Event]:
    """Decode a JSON array of canonical events."""
    return _EVENT_LIST_ADAPTER.validate_json(data)


def event_from_dict(data: Any) -> Event:
    """Validate an already-decoded object as a canonical event."""
    return EVENT_ADAPTER.validate_python(data)


def dump_event(event: Event) -> bytes:
    """Canonical JSON: fields in declaration order, absent values left out."""
    return event.model_dump_json(exclude_none=True).encode()


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON-ready form of an event (what :func:`dump_event` encodes)."""
    return event.model_dump(mode="json", exclude_none=True)


def event_json_schema() -> dict[str, Any]:
    return EVENT_ADAPTER.json_schema()


def tracking_numbers_named(event: Event) -> list[str]:
    """Tracking numbers an order-side event attaches to its order (shipments and returns)."""
    if isinstance(event, FulfilmentShippedEvent):
        payload = event.payload
        numbers = [n for n in (event.tracking_number, payload.tracking_number) if n]
        numbers += [package.tracking_number for package in payload.packages or ()]
        return list(dict.fromkeys(numbers))
    if isinstance(event, ReturnEventEnvelope) and event.payload.tracking_number:
        return [event.payload.tracking_number]
    if isinstance(event, ShipmentLinkedEvent):
        return [event.payload.tracking_number]
    return []
