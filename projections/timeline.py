"""The pure order-timeline fold: ``fold(events) -> Timeline``. No I/O.

The result depends only on the *set* of events: :func:`projections.ordering.canonical_sequence`
deduplicates and sorts them, then the fold walks that sequence twice — first the order-side
events (order, fulfilment, shipments, payments, returns, refunds, exceptions, and what customers
and agents did: :mod:`projections.timeline_actions`), then, once the hand links
(``shipment.linked``) are applied, the parcel events (checkpoints, EDD revisions), which by then
can be routed to the shipment or return that names their tracking number. A scan whose
tracking number no shipment names yet is kept as an orphan and lands on its shipment in the
first fold that knows it (invariant 6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from projections.order_status import (
    LineReference,
    derive_order_status,
    line_accounting,
    link_promises,
    unknown_lines,
)
from projections.ordering import canonical_sequence, set_digest
from projections.parcels import ParcelRouter
from projections.timeline_actions import (
    ActionHistory,
    assigned,
    case_opened,
    count_notes,
    escalated,
    reported,
)
from projections.timeline_model import (
    DeliveryGroupView,
    EddRevision,
    ExceptionView,
    FulfilmentOrderView,
    FulfilmentStepView,
    LineView,
    PackageView,
    PaymentStepView,
    PaymentView,
    PredictionView,
    RefundView,
    ReturnView,
    ShipmentView,
    Timeline,
)
from wismo.events import (
    CancelRequestEvent,
    CustomerMessagedEvent,
    EddRevisedEvent,
    Event,
    EventKind,
    ExceptionAssignedEvent,
    ExceptionCaseOpenedEvent,
    ExceptionEscalatedEvent,
    ExceptionOpenedEvent,
    ExceptionTransitionEvent,
    FulfilmentCreatedEvent,
    FulfilmentShippedEvent,
    FulfilmentStepEvent,
    NoteAddedEvent,
    OrderCancelledEvent,
    OrderChangedEvent,
    OrderPlacedEvent,
    PaymentEventEnvelope,
    ProblemReportedEvent,
    RefundIssuedEvent,
    ReturnEventEnvelope,
    ShipmentLinkedEvent,
    ShipmentPredictedEvent,
    TrackingCheckpointEvent,
)
from wismo.ids import email_hash
from wismo.payloads import DeliveryGroup, LineQuantity, OrderDetails, OrderLine
from wismo.vocab import (
    EXCEPTION_STATE_RANK,
    FULFILMENT_RANK,
    RETURN_RANK,
    ExceptionState,
    FulfilmentStatus,
    PaymentStatus,
    ReturnStatus,
)


class FoldError(ValueError):
    """The events given to one fold do not belong to one order."""


def fold(events: Iterable[Event], order_id: str | None = None) -> Timeline:
    """The timeline of one order from (any permutation, with any duplication of) its events."""
    return OrderFold.of(events, order_id).timeline


#: Order-side kinds a fold can take after its parcel events were routed: their handlers touch
#: nothing the parcel router reads or writes (shipments, packages, returns) and nothing
#: :func:`link_promises` fills only once (delivery groups, fulfilment order groups). Not here:
#: ``return.requested`` (a new return) and ``shipment.linked`` (a new or re-targeted shipment).
CONTINUED_KINDS = frozenset(
    {
        EventKind.ORDER_CANCELLED,
        EventKind.FULFILMENT_ALLOCATED,
        EventKind.FULFILMENT_PICKED,
        EventKind.FULFILMENT_PACKED,
        EventKind.FULFILMENT_REJECTED,
        EventKind.FULFILMENT_BACKORDERED,
        EventKind.PAYMENT_AUTHORIZED,
        EventKind.PAYMENT_CAPTURED,
        EventKind.PAYMENT_FAILED,
        EventKind.PAYMENT_REFUNDED,
        EventKind.PAYMENT_SETTLED,
        EventKind.REFUND_ISSUED,
        EventKind.EXCEPTION_OPENED,
        EventKind.EXCEPTION_ACKNOWLEDGED,
        EventKind.EXCEPTION_RESOLVED,
        EventKind.TRACKING_CHECKPOINT,
        EventKind.EDD_REVISED,
        EventKind.SHIPMENT_PREDICTED,
        EventKind.PROBLEM_REPORTED,
        EventKind.CANCEL_REQUESTED,
        EventKind.CANCEL_CONFIRMED,
        EventKind.CANCEL_REJECTED,
        EventKind.EXCEPTION_ASSIGNED,
        EventKind.EXCEPTION_ESCALATED,
        EventKind.EXCEPTION_CASE_OPENED,
        EventKind.NOTE_ADDED,
        EventKind.CUSTOMER_MESSAGED,
    }
)


_PARCEL_EVENTS = (TrackingCheckpointEvent, EddRevisedEvent)


class OrderFold:
    """The fold of one order's event set, which live traffic can continue instead of redoing.

    :meth:`of` folds a set from scratch: order-side events in canonical order, then parcel
    events routed onto the shipments they name, then the derived facts. :meth:`extend` adds
    events that happened strictly after every event already folded, when their kinds are in
    :data:`CONTINUED_KINDS`: then continuing gives exactly what folding the union from scratch
    gives (a hypothesis property checks it), for a fraction of the work. Anything else — a late
    event, a new shipment or return, a changed order — returns ``False`` and the caller folds
    from scratch.
    """

    __slots__ = ("_builder", "_ids", "_last_at", "_router", "_sources")

    def __init__(self, builder: _OrderBuilder) -> None:
        """Over a builder that has applied its order-side events (see :meth:`of`)."""
        self._builder = builder
        self._router = ParcelRouter(builder.timeline)  # indexes the shipments built so far
        self._ids: set[str] = set()
        self._sources: set[str] = set()
        self._last_at: datetime | None = None

    @property
    def timeline(self) -> Timeline:
        return self._builder.timeline

    @classmethod
    def of(cls, events: Iterable[Event], order_id: str | None = None) -> OrderFold:
        sequence = canonical_sequence(events)
        order_ids = {e.order_id for e in sequence if e.order_id is not None}
        if order_id is not None:
            order_ids.add(order_id)
        if len(order_ids) != 1:
            found = sorted(order_ids)
            raise FoldError(f"a fold needs the events of exactly one order, got {found}")
        builder = _OrderBuilder(Timeline(order_id=order_ids.pop()))
        parcel_events = _apply_order_side(builder, sequence)
        builder.link_shipments()
        result = cls(builder)
        result._finish(sequence, parcel_events)
        if sequence:
            result.timeline.first_event_at = sequence[0].occurred_at
        return result

    def extend(self, events: Iterable[Event]) -> bool:
        """Continue with new ``events``; ``False`` (and nothing changed) when that is not exact."""
        sequence = canonical_sequence(events)
        if not sequence or self._last_at is None:
            return False
        order_id = self.timeline.order_id
        for event in sequence:
            if (
                event.occurred_at <= self._last_at
                or event.kind not in CONTINUED_KINDS
                or event.event_id in self._ids
                or event.order_id not in (None, order_id)
            ):
                return False
        self._finish(sequence, _apply_order_side(self._builder, sequence))
        return True

    def _finish(
        self,
        sequence: list[Event],
        parcel_events: list[TrackingCheckpointEvent | EddRevisedEvent],
    ) -> None:
        timeline = self.timeline
        self._router.route(parcel_events)
        line_accounting(timeline)
        count_notes(timeline)
        builder = self._builder
        timeline.data_quality = unknown_lines(builder.ordered_lines, builder.line_references)
        link_promises(timeline)
        timeline.status = derive_order_status(timeline)
        self._ids.update(e.event_id for e in sequence)
        self._sources.update(e.source for e in sequence)
        timeline.events_applied = timeline.version = len(self._ids)
        timeline.digest = set_digest(self._ids)
        timeline.sources = sorted(self._sources)
        if sequence:
            self._last_at = timeline.last_event_at = sequence[-1].occurred_at


def _apply_order_side(
    builder: _OrderBuilder, sequence: list[Event]
) -> list[TrackingCheckpointEvent | EddRevisedEvent]:
    """Apply the order-side events in order; returns the parcel events, for the router."""
    parcel_events: list[TrackingCheckpointEvent | EddRevisedEvent] = []
    for event in sequence:
        if isinstance(event, _PARCEL_EVENTS):
            parcel_events.append(event)
        else:
            builder.apply(event)
    return parcel_events


def _merge_quantities(target: dict[str, int], lines: Sequence[LineQuantity] | None) -> None:
    for line in lines or ():
        target[line.line_id] = line.quantity


class _OrderBuilder:
    """Applies order-side events, in canonical order, onto a timeline under construction."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._lines: dict[str, LineView] = {}
        self._groups: dict[str, DeliveryGroupView] = {}
        self._fulfilment: dict[str, FulfilmentOrderView] = {}
        self._shipments: dict[str, ShipmentView] = {}
        self._returns: dict[str, ReturnView] = {}
        self._payments: dict[str, PaymentView] = {}
        self._refunds: dict[str, RefundView] = {}
        self._exceptions: dict[str, ExceptionView] = {}
        #: the newest prediction per shipment id, whether or not the shipment is known yet
        self._predictions: dict[str, PredictionView] = {}
        #: hand links (``shipment.linked``) by tracking number: the latest in canonical order
        self._links: dict[str, ShipmentLinkedEvent] = {}
        self.history = ActionHistory(timeline)
        #: line ids the order's own events list, and the lines fulfilment orders and shipments
        #: name (with the events naming them): see :func:`unknown_lines`
        self.ordered_lines: set[str] = set()
        self.line_references: dict[LineReference, set[str]] = {}

    def _refer(
        self, kind: str, subject: str, lines: list[LineQuantity] | None, event: Event
    ) -> None:
        for line in lines or ():
            self.line_references.setdefault((kind, subject, line.line_id), set()).add(
                event.event_id
            )

    def apply(self, event: Event) -> None:
        if isinstance(event, OrderPlacedEvent | OrderChangedEvent):
            self._order_details(event)
        elif isinstance(event, OrderCancelledEvent):
            self._cancelled(event)
        elif isinstance(event, FulfilmentCreatedEvent | FulfilmentStepEvent):
            self._fulfilment_step(event)
        elif isinstance(event, FulfilmentShippedEvent):
            self._shipped(event)
        elif isinstance(event, PaymentEventEnvelope):
            self._payment(event)
        elif isinstance(event, ReturnEventEnvelope):
            self._return(event)
        elif isinstance(event, RefundIssuedEvent):
            self._refund(event)
        elif isinstance(event, ExceptionOpenedEvent | ExceptionTransitionEvent):
            self._exception(event)
        elif isinstance(event, ShipmentPredictedEvent):
            self._predicted(event)
        else:
            self._action(event)

    def _action(self, event: Event) -> None:
        """What customers and agents did (see :mod:`projections.timeline_actions`)."""
        if isinstance(event, ProblemReportedEvent):
            reported(self._exception_view(event.payload.exception_id), event)
        elif isinstance(event, ExceptionAssignedEvent):
            assigned(self._exception_view(event.payload.exception_id), event)
        elif isinstance(event, ExceptionEscalatedEvent):
            escalated(self._exception_view(event.payload.exception_id), event)
            self.history.escalation_note(event)
        elif isinstance(event, ExceptionCaseOpenedEvent):
            case_opened(self._exception_view(event.payload.exception_id), event)
        elif isinstance(event, NoteAddedEvent):
            self.history.note(event)
        elif isinstance(event, CustomerMessagedEvent):
            self.history.message(event)
        elif isinstance(event, CancelRequestEvent):
            self.history.cancel(event)
        elif isinstance(event, ShipmentLinkedEvent):
            self._links[event.payload.tracking_number] = event

    # order ---------------------------------------------------------------------------------

    def _order_details(self, event: OrderPlacedEvent | OrderChangedEvent) -> None:
        t, p = self.timeline, event.payload
        t.order_number = p.order_number or t.order_number
        t.channel = p.channel or t.channel
        t.sales_channel = p.sales_channel or t.sales_channel
        t.brand = p.brand or t.brand
        t.locale = p.locale or t.locale
        t.currency = p.currency or t.currency
        t.total_amount = p.total_amount if p.total_amount is not None else t.total_amount
        if p.customer_email:
            t.customer_email_sha256 = email_hash(p.customer_email)
        if p.placed_at is not None:
            t.placed_at = p.placed_at
        elif event.kind is EventKind.ORDER_PLACED and t.placed_at is None:
            t.placed_at = event.occurred_at
        self._merge_lines(p)
        for group in p.delivery_groups or ():
            self._merge_group(group)

    def _merge_lines(self, details: OrderDetails) -> None:
        for line in details.lines or ():
            self.ordered_lines.add(line.line_id)
            view = self._line(line.line_id)
            _merge_line(view, line)

    def _line(self, line_id: str) -> LineView:
        view = self._lines.get(line_id)
        if view is None:
            view = self._lines[line_id] = LineView(line_id=line_id)
            self.timeline.lines.append(view)
        return view

    def _merge_group(self, group: DeliveryGroup) -> None:
        view = self._groups.get(group.group_id)
        if view is None:
            view = self._groups[group.group_id] = DeliveryGroupView(group_id=group.group_id)
            self.timeline.delivery_groups.append(view)
        view.method = group.method or view.method
        view.promised_delivery_date = group.promised_delivery_date or view.promised_delivery_date
        view.ship_by = group.ship_by or view.ship_by
        view.destination = group.destination or view.destination
        view.line_ids = group.line_ids if group.line_ids is not None else view.line_ids
        view.address_masked = group.address_masked or view.address_masked
        dates = [
            g.promised_delivery_date for g in self._groups.values() if g.promised_delivery_date
        ]
        self.timeline.promised_delivery_date = max(dates) if dates else None

    def _cancelled(self, event: OrderCancelledEvent) -> None:
        t, p = self.timeline, event.payload
        t.cancel_reason = p.reason or t.cancel_reason
        if p.lines is None:
            t.cancelled = True
            t.cancelled_at = t.cancelled_at or event.occurred_at
            return
        for line in p.lines:
            self._line(line.line_id).cancelled_quantity += line.quantity

    # fulfilment ----------------------------------------------------------------------------

    def _fulfilment_order(self, fulfilment_order_id: str) -> FulfilmentOrderView:
        view = self._fulfilment.get(fulfilment_order_id)
        if view is None:
            view = FulfilmentOrderView(fulfilment_order_id=fulfilment_order_id)
            self._fulfilment[fulfilment_order_id] = view
            self.timeline.fulfilment_orders.append(view)
        return view

    def _advance(self, view: FulfilmentOrderView, status: FulfilmentStatus, event: Event) -> None:
        view.history.append(FulfilmentStepView(status=status, occurred_at=event.occurred_at))
        if FULFILMENT_RANK[status] >= FULFILMENT_RANK[view.status]:
            view.status = status

    def _fulfilment_step(self, event: FulfilmentCreatedEvent | FulfilmentStepEvent) -> None:
        p = event.payload
        view = self._fulfilment_order(p.fulfilment_order_id)
        view.warehouse = p.warehouse or view.warehouse
        _merge_quantities(view.lines, p.lines)
        self._refer("fulfilment_order", p.fulfilment_order_id, p.lines, event)
        if isinstance(event, FulfilmentCreatedEvent):
            view.delivery_group_id = event.payload.delivery_group_id or view.delivery_group_id
            view.ship_by = event.payload.ship_by or view.ship_by
        else:
            view.reason = event.payload.reason or view.reason
            view.expected_ship_date = event.payload.expected_ship_date or view.expected_ship_date
        self._advance(view, FulfilmentStatus(event.kind.value.split(".", 1)[1]), event)

    def _shipped(self, event: FulfilmentShippedEvent) -> None:
        p = event.payload
        view = self._shipment(p.key)
        view.tracking_number = view.tracking_number or p.tracking_number or event.tracking_number
        view.carrier = p.carrier or view.carrier
        view.service = p.service or view.service
        view.tracking_url = p.tracking_url or view.tracking_url
        view.fulfilment_order_id = p.fulfilment_order_id or view.fulfilment_order_id
        view.origin = p.origin or view.origin
        view.destination = p.destination or view.destination
        view.shipped_at = view.shipped_at or p.shipped_at or event.occurred_at
        _merge_quantities(view.lines, p.lines)
        self._refer("shipment", p.key, p.lines, event)
        for package in p.packages or ():
            self._refer("shipment", p.key, package.lines, event)
        self._merge_packages(view, event)
        if view.tracking_number is None and view.packages:
            view.tracking_number = view.packages[0].tracking_number
        if p.carrier_edd is not None:
            view.edd_history.append(
                EddRevision(event.occurred_at, p.carrier_edd, source=event.source)
            )
        if p.fulfilment_order_id is not None:
            self._advance(
                self._fulfilment_order(p.fulfilment_order_id), FulfilmentStatus.SHIPPED, event
            )

    def _shipment(self, shipment_id: str) -> ShipmentView:
        view = self._shipments.get(shipment_id)
        if view is None:
            view = self._shipments[shipment_id] = ShipmentView(shipment_id=shipment_id)
            view.prediction = self._predictions.get(shipment_id)
            self.timeline.shipments.append(view)
        return view

    @staticmethod
    def _merge_packages(view: ShipmentView, event: FulfilmentShippedEvent) -> None:
        known = {package.tracking_number: package for package in view.packages}
        p = event.payload
        master = p.tracking_number or event.tracking_number
        if master is not None and master not in known and not p.packages and not view.packages:
            known[master] = PackageView(tracking_number=master)
            view.packages.append(known[master])
        for package in p.packages or ():
            existing = known.get(package.tracking_number)
            if existing is None:
                existing = known[package.tracking_number] = PackageView(package.tracking_number)
                view.packages.append(existing)
            existing.package_id = package.package_id or existing.package_id
            if package.weight_kg is not None:
                existing.weight_kg = package.weight_kg
            _merge_quantities(view.lines, package.lines)

    def link_shipments(self) -> None:
        """Apply the hand links once every order-side event is in, so a link and the shipment
        naming its number meet whichever came first: that shipment gets the agent (and a package
        for the number, so its scans route there); a number nothing names gets a shipment
        ``linked:<NUMBER>`` of its own; a number a return names stays the return's."""
        returns = {r.tracking_number for r in self.timeline.returns}
        for number, event in sorted(self._links.items()):
            view = self._shipment_naming(number)
            if view is None:
                if number in returns:
                    continue
                view = self._shipment(f"linked:{number}")
                view.tracking_number = view.tracking_number or number
            if all(package.tracking_number != number for package in view.packages):
                view.packages.append(PackageView(tracking_number=number))
            view.carrier = view.carrier or event.payload.carrier
            view.linked_by = event.payload.by

    def _shipment_naming(self, number: str) -> ShipmentView | None:
        shipments = self.timeline.shipments
        for shipment in shipments:
            if any(package.tracking_number == number for package in shipment.packages):
                return shipment
        return next((s for s in shipments if s.tracking_number == number), None)

    def _predicted(self, event: ShipmentPredictedEvent) -> None:
        """Keep the newest prediction of the shipment (latest ``as_of``, then computed, then id):
        a maximum, so the order events arrive in does not matter."""
        p = event.payload
        new = PredictionView(
            predicted_delivery=p.predicted_delivery,
            window_start=p.window_start,
            window_end=p.window_end,
            p_late=p.p_late,
            promise=p.promise,
            level=p.basis.level,
            key=p.basis.key,
            samples=p.basis.samples,
            parcels=p.basis.parcels,
            model_version=p.model_version,
            as_of=p.as_of,
            computed_at=event.occurred_at,
            event_id=event.event_id,
            beyond_history=p.beyond_history,
        )
        kept = self._predictions.get(p.shipment_id)
        if kept is not None and _prediction_rank(kept) >= _prediction_rank(new):
            return
        self._predictions[p.shipment_id] = new
        shipment = self._shipments.get(p.shipment_id)
        if shipment is not None:
            shipment.prediction = new

    # money and returns ---------------------------------------------------------------------

    def _payment(self, event: PaymentEventEnvelope) -> None:
        p = event.payload
        status = PaymentStatus(event.kind.value.split(".", 1)[1])
        view = self._payments.get(p.payment_id)
        if view is None:
            view = self._payments[p.payment_id] = PaymentView(p.payment_id, status)
            self.timeline.payments.append(view)
        view.status = status
        view.currency = p.currency or view.currency
        view.method = p.method or view.method
        view.processor_reference = p.processor_reference or view.processor_reference
        view.failure_reason = p.failure_reason or view.failure_reason
        view.history.append(PaymentStepView(status, event.occurred_at, p.amount))
        if p.amount is not None:
            if status is PaymentStatus.AUTHORIZED:
                view.authorized_amount = p.amount
            elif status is PaymentStatus.CAPTURED:
                view.captured_amount += p.amount
            elif status is PaymentStatus.REFUNDED:
                view.refunded_amount += p.amount

    def _return(self, event: ReturnEventEnvelope) -> None:
        p = event.payload
        status = ReturnStatus(event.kind.value.split(".", 1)[1])
        view = self._returns.get(p.return_id)
        if view is None:
            view = self._returns[p.return_id] = ReturnView(p.return_id, status)
            self.timeline.returns.append(view)
        if RETURN_RANK[status] >= RETURN_RANK[view.status]:
            view.status = status
        view.reason = p.reason or view.reason
        view.carrier = p.carrier or view.carrier
        view.tracking_number = p.tracking_number or view.tracking_number
        view.note = p.note or view.note
        _merge_quantities(view.lines, p.lines)
        view.line_reasons.update(
            {line.line_id: line.reason for line in p.lines or () if line.reason}
        )
        stamp = {
            ReturnStatus.REQUESTED: "requested_at",
            ReturnStatus.AUTHORIZED: "authorized_at",
            ReturnStatus.IN_TRANSIT: "shipped_at",
            ReturnStatus.RECEIVED: "received_at",
            ReturnStatus.REJECTED: "rejected_at",
        }[status]
        if getattr(view, stamp) is None:
            setattr(view, stamp, event.occurred_at)

    def _refund(self, event: RefundIssuedEvent) -> None:
        p = event.payload
        view = self._refunds.get(p.refund_id)
        if view is None:
            view = self._refunds[p.refund_id] = RefundView(p.refund_id, event.occurred_at)
            self.timeline.refunds.append(view)
        view.amount = p.amount if p.amount is not None else view.amount
        view.currency = p.currency or view.currency
        view.return_id = p.return_id or view.return_id
        view.full = view.full or p.full
        _merge_quantities(view.lines, p.lines)

    # exceptions ----------------------------------------------------------------------------

    def _exception_view(self, exception_id: str) -> ExceptionView:
        view = self._exceptions.get(exception_id)
        if view is None:
            view = self._exceptions[exception_id] = ExceptionView(exception_id, ExceptionState.OPEN)
            self.timeline.exceptions.append(view)
        return view

    def _exception(self, event: ExceptionOpenedEvent | ExceptionTransitionEvent) -> None:
        view = self._exception_view(event.payload.exception_id)
        if isinstance(event, ExceptionOpenedEvent):
            _open_exception(view, event)
            return
        self.history.transition_note(event)
        p = event.payload
        view.note = p.note or view.note
        if event.kind is EventKind.EXCEPTION_ACKNOWLEDGED:
            view.acknowledged_at = view.acknowledged_at or event.occurred_at
            view.acknowledged_by = p.by or view.acknowledged_by
            target = ExceptionState.ACKNOWLEDGED
        else:
            view.resolved_at = event.occurred_at
            view.resolved_by = p.by or view.resolved_by
            view.automatic_resolution = p.automatic
            target = ExceptionState.RESOLVED
        if EXCEPTION_STATE_RANK[target] > EXCEPTION_STATE_RANK[view.state]:
            view.state = target


def _prediction_rank(view: PredictionView) -> tuple[datetime, datetime, str]:
    return (view.as_of, view.computed_at, view.event_id)


def _open_exception(view: ExceptionView, event: ExceptionOpenedEvent) -> None:
    p = event.payload
    view.type, view.severity, view.owner = p.type, p.severity, p.owner
    view.subject = p.subject or view.subject
    view.reason = p.reason or view.reason
    view.message = p.message
    if view.state is ExceptionState.RESOLVED and view.resolved_at is not None:
        # detected again after it was resolved: the same exception re-opens
        view.state, view.resolved_at, view.resolved_by = ExceptionState.OPEN, None, None
        view.acknowledged_at = view.acknowledged_by = None
        view.opened_at = event.occurred_at
    view.opened_at = view.opened_at or event.occurred_at


def _merge_line(view: LineView, line: OrderLine) -> None:
    view.sku = line.sku or view.sku
    view.name = line.name or view.name
    view.quantity = line.quantity if line.quantity is not None else view.quantity
    view.unit_price = line.unit_price if line.unit_price is not None else view.unit_price
