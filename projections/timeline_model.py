"""The order timeline: the read model every user sees, built by :func:`projections.timeline.fold`.

Plain dataclasses (serialised with orjson by :mod:`projections.serialize`): an order, its delivery
groups and lines, fulfilment orders, shipments with packages and checkpoints, returns, payments,
refunds and exceptions, plus a derived order-level status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from wismo.payloads import Place
from wismo.vocab import (
    CancelStatus,
    Channel,
    ExceptionState,
    ExceptionType,
    FulfilmentStatus,
    OrderStatus,
    Owner,
    PaymentStatus,
    ProblemType,
    Reason,
    ReturnStatus,
    Severity,
    TrackingStatus,
)


@dataclass(slots=True)
class CheckpointView:
    event_id: str
    source: str
    tracking_number: str
    occurred_at: datetime
    status: TrackingStatus
    reason: Reason | None
    raw_code: str | None
    message: str | None
    location: Place | None
    carrier: str | None
    estimated_delivery: date | None
    signed_by: str | None = None
    proof_of_delivery_url: str | None = None


@dataclass(slots=True)
class EddRevision:
    occurred_at: datetime
    estimated_delivery: date
    source: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    reason: str | None = None


@dataclass(slots=True)
class PredictionView:
    """wismo's latest delivery estimate for a shipment (a ``shipment.predicted`` event).

    ``as_of`` is the last scan it was computed from, ``computed_at`` when; ``level``, ``key``,
    ``samples`` and ``parcels`` say which comparable parcels it rests on.
    """

    predicted_delivery: date
    window_start: datetime
    window_end: datetime
    p_late: float | None
    promise: date | None
    level: str
    key: str
    samples: int
    parcels: int
    model_version: str
    as_of: datetime
    computed_at: datetime
    event_id: str
    beyond_history: bool = False


@dataclass(slots=True)
class PackageView:
    tracking_number: str
    package_id: str | None = None
    weight_kg: float | None = None
    status: TrackingStatus = TrackingStatus.INFO_RECEIVED
    reason: Reason | None = None
    delivered_at: datetime | None = None
    last_checkpoint_at: datetime | None = None


@dataclass(slots=True)
class ShipmentView:
    shipment_id: str
    tracking_number: str | None = None
    carrier: str | None = None
    service: str | None = None
    tracking_url: str | None = None
    fulfilment_order_id: str | None = None
    delivery_group_id: str | None = None
    status: TrackingStatus = TrackingStatus.INFO_RECEIVED
    reason: Reason | None = None
    promised_delivery_date: date | None = None
    carrier_edd_first: date | None = None
    estimated_delivery: date | None = None
    estimated_window_start: datetime | None = None
    estimated_window_end: datetime | None = None
    shipped_at: datetime | None = None
    first_scan_at: datetime | None = None
    out_for_delivery_at: datetime | None = None
    first_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    returned_at: datetime | None = None
    last_checkpoint_at: datetime | None = None
    failed_attempts: int = 0
    origin: Place | None = None
    destination: Place | None = None
    lines: dict[str, int] = field(default_factory=dict)
    packages: list[PackageView] = field(default_factory=list)
    edd_history: list[EddRevision] = field(default_factory=list)
    checkpoints: list[CheckpointView] = field(default_factory=list)
    prediction: PredictionView | None = None
    linked_by: str | None = None
    """The agent who linked its tracking number to the order by hand (``shipment.linked``)."""
    signed_by: str | None = None
    """Who signed for it: from its newest delivered scan that names someone."""
    proof_of_delivery_url: str | None = None
    """The carrier's proof-of-delivery photo or document, from its newest delivered scan."""


@dataclass(slots=True)
class LineView:
    line_id: str
    sku: str | None = None
    name: str | None = None
    quantity: int | None = None
    unit_price: Decimal | None = None
    cancelled_quantity: int = 0
    shipped_quantity: int = 0
    returned_quantity: int = 0


@dataclass(slots=True)
class DeliveryGroupView:
    group_id: str
    method: str | None = None
    promised_delivery_date: date | None = None
    ship_by: datetime | None = None
    destination: Place | None = None
    line_ids: list[str] | None = None
    address_masked: str | None = None


@dataclass(slots=True)
class FulfilmentStepView:
    status: FulfilmentStatus
    occurred_at: datetime


@dataclass(slots=True)
class FulfilmentOrderView:
    fulfilment_order_id: str
    status: FulfilmentStatus = FulfilmentStatus.CREATED
    delivery_group_id: str | None = None
    warehouse: str | None = None
    ship_by: datetime | None = None
    expected_ship_date: date | None = None
    reason: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    history: list[FulfilmentStepView] = field(default_factory=list)


@dataclass(slots=True)
class ReturnView:
    return_id: str
    status: ReturnStatus = ReturnStatus.AUTHORIZED
    reason: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    carrier_status: TrackingStatus | None = None
    note: str | None = None
    authorized_at: datetime | None = None
    shipped_at: datetime | None = None
    received_at: datetime | None = None
    rejected_at: datetime | None = None
    lines: dict[str, int] = field(default_factory=dict)
    checkpoints: list[CheckpointView] = field(default_factory=list)
    requested_at: datetime | None = None
    line_reasons: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PaymentStepView:
    status: PaymentStatus
    occurred_at: datetime
    amount: Decimal | None


@dataclass(slots=True)
class PaymentView:
    payment_id: str
    status: PaymentStatus
    currency: str | None = None
    method: str | None = None
    processor_reference: str | None = None
    failure_reason: str | None = None
    authorized_amount: Decimal | None = None
    captured_amount: Decimal = Decimal(0)
    refunded_amount: Decimal = Decimal(0)
    history: list[PaymentStepView] = field(default_factory=list)


@dataclass(slots=True)
class RefundView:
    refund_id: str
    issued_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    return_id: str | None = None
    full: bool = False
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class CaseView:
    """The service-desk case opened for an escalated exception (``exception.case_opened``)."""

    system: str
    case_id: str
    case_number: str
    url: str | None = None
    opened_at: datetime | None = None


@dataclass(slots=True)
class ExceptionView:
    exception_id: str
    state: ExceptionState
    type: ExceptionType | None = None
    severity: Severity | None = None
    owner: Owner | None = None
    subject: str | None = None
    reason: Reason | None = None
    message: str | None = None
    opened_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    note: str | None = None
    automatic_resolution: bool = False
    # a customer's report (problem.reported): the customer's own words are in ``message``
    problem: ProblemType | None = None
    attachment: dict[str, str | int] | None = None
    """The customer's photo: ``ref``, ``content_type``, ``size_bytes``, ``sha256``."""
    reported_lines: dict[str, int] = field(default_factory=dict)
    reported_by_customer: bool = False
    # who works on it (the latest exception.assigned; assignee None: the unassigned queue)
    assignee: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None
    escalated_at: datetime | None = None
    escalated_by: str | None = None
    escalation_reason: str | None = None
    escalated_to: str | None = None
    case: CaseView | None = None
    notes_count: int = 0


NoteAction = Literal["note", "acknowledge", "resolve", "escalate"]


@dataclass(slots=True)
class NoteView:
    """One entry of an order's note history: a ``note.added``, or the note an agent gave when
    acknowledging, resolving or escalating an exception (``action``). Never edited."""

    note_id: str
    text: str
    by: str | None
    at: datetime
    exception_id: str | None = None
    action: NoteAction = "note"


@dataclass(slots=True)
class CancelRequestView:
    """A customer's request to cancel lines, and the OMS's answer."""

    request_id: str
    status: CancelStatus = CancelStatus.REQUESTED
    lines: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    note: str | None = None


@dataclass(slots=True)
class CustomerMessageView:
    """A message an agent sent the customer from a template (``customer.messaged``)."""

    message_id: str
    template: str
    by: str
    at: datetime
    text: str | None = None
    exception_id: str | None = None


@dataclass(slots=True)
class DataQualityNote:
    """Something the order's events disagree on, shown to agents (never to customers).

    ``code`` ``unknown_line``: the fulfilment order or shipment ``subject`` names ``line_id``,
    which is not among the order's lines; ``event_ids`` are the events that name it there.
    """

    code: str
    subject: str
    line_id: str
    message: str
    event_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Timeline:
    order_id: str
    status: OrderStatus = OrderStatus.PLACED
    order_number: str | None = None
    channel: Channel | None = None
    sales_channel: str | None = None
    brand: str | None = None
    locale: str | None = None
    placed_at: datetime | None = None
    currency: str | None = None
    total_amount: Decimal | None = None
    customer_email_sha256: str | None = None
    promised_delivery_date: date | None = None
    cancelled: bool = False
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    delivery_groups: list[DeliveryGroupView] = field(default_factory=list)
    lines: list[LineView] = field(default_factory=list)
    fulfilment_orders: list[FulfilmentOrderView] = field(default_factory=list)
    shipments: list[ShipmentView] = field(default_factory=list)
    orphan_checkpoints: list[CheckpointView] = field(default_factory=list)
    orphan_edd_revisions: list[EddRevision] = field(default_factory=list)
    returns: list[ReturnView] = field(default_factory=list)
    payments: list[PaymentView] = field(default_factory=list)
    refunds: list[RefundView] = field(default_factory=list)
    exceptions: list[ExceptionView] = field(default_factory=list)
    data_quality: list[DataQualityNote] = field(default_factory=list)
    notes: list[NoteView] = field(default_factory=list)
    cancel_requests: list[CancelRequestView] = field(default_factory=list)
    messages: list[CustomerMessageView] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    events_applied: int = 0
    version: int = 0
    digest: str = ""
