"""Delivery-exception rules: which exceptions *should* be open for a timeline at a given time.

Pure: ``detect(timeline, now, thresholds)`` reads the folded timeline and the clock, nothing else.
Rules come in two flavours:

* **event rules** read a state the events put the timeline in — a carrier-reported problem,
  a failed delivery attempt, a return to sender, lost or damaged, a customs hold, an EDD beyond
  the promise, a failed payment capture. ``due_at`` is the time of the event that showed it;
* **clock rules** fire when a deadline derived from the timeline passes — stalled in transit,
  late vs the promised date, not shipped by ship-by, label never scanned, refund overdue.
  ``due_at`` is the deadline itself, and a rule fires exactly when ``now >= deadline``.

``due_at`` is "since when the condition holds", which the lifecycle
(:func:`projections.exception_flow.reconcile`) uses to tell a new occurrence from an old one.
:func:`next_check_at` gives the earliest future deadline that would open something new, so a
sweeper need only look at an order again then. See docs/exceptions.md for every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from projections.customer_texts import CUSTOMER_TEXT, CUSTOMER_TEXT_BY_REASON
from projections.timeline_model import (
    CheckpointView,
    PackageView,
    ReturnView,
    ShipmentView,
    Timeline,
)
from wismo.ids import exception_id
from wismo.settings import PredictSettings, ThresholdSettings
from wismo.vocab import (
    RETURN_STATUSES,
    ExceptionState,
    ExceptionType,
    FulfilmentStatus,
    Owner,
    PaymentStatus,
    Reason,
    ReturnStatus,
    Severity,
    TrackingStatus,
    owner_of,
)

_RAW_MESSAGE_CHARS = 500
SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}

#: Package statuses in which a parcel is expected to keep producing scans.
MOVING_STATUSES = frozenset(
    {
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.EXCEPTION,
        TrackingStatus.ATTEMPT_FAIL,
    }
)
#: Shipment statuses after which a parcel is no longer on its way to the customer.
ARRIVED_OR_GONE = frozenset(
    {
        TrackingStatus.DELIVERED,
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        TrackingStatus.EXPIRED,
        *RETURN_STATUSES,
    }
)
_OPEN_FULFILMENT_DONE = frozenset(
    {FulfilmentStatus.SHIPPED, FulfilmentStatus.REJECTED, FulfilmentStatus.CANCELLED}
)
_LOST_OR_DAMAGED = frozenset({Reason.CARRIER_LOST, Reason.CARRIER_DAMAGED})
_CUSTOMS = frozenset(r for r in Reason if r.value.startswith("customs_"))
#: Reasons that explain a normal outcome or a customer's own request: not a problem by themselves.
_BENIGN_REASONS = frozenset(
    {
        Reason.UNKNOWN,
        Reason.CONSIGNEE_REQUESTED_HOLD,
        Reason.CONSIGNEE_RESCHEDULED,
        *(r for r in Reason if r.value.startswith("delivered_")),
    }
)
_SERIOUS_CUSTOMS = frozenset(
    {
        Reason.CUSTOMS_DOCUMENTS_REQUIRED,
        Reason.CUSTOMS_DUTIES_DUE,
        Reason.CUSTOMS_PROHIBITED,
    }
)


@dataclass(frozen=True, slots=True)
class DetectedException:
    """An exception the rules say should be open now."""

    type: ExceptionType
    severity: Severity
    owner: Owner
    subject: str
    reason: Reason | None
    message: str
    customer_text: str
    due_at: datetime

    @property
    def key(self) -> tuple[str, ExceptionType]:
        return (self.subject, self.type)


#: Severity and owner of the types that always have the same ones. The carrier's own signals
#: (carrier reported, failed attempts, return to sender, lost or damaged, customs) take theirs
#: from the status and reason instead (:func:`_classify`).
FIXED_TYPES: dict[ExceptionType, tuple[Severity, Owner]] = {
    ExceptionType.STALLED: (Severity.MEDIUM, Owner.CARRIER),
    ExceptionType.LATE_VS_PROMISE: (Severity.HIGH, Owner.CARRIER),
    ExceptionType.LABEL_NOT_SCANNED: (Severity.MEDIUM, Owner.WAREHOUSE),
    ExceptionType.NOT_SHIPPED_ON_TIME: (Severity.HIGH, Owner.WAREHOUSE),
    ExceptionType.REFUND_OVERDUE: (Severity.HIGH, Owner.PAYMENT),
    ExceptionType.PAYMENT_CAPTURE_FAILED: (Severity.HIGH, Owner.PAYMENT),
}


def _fixed(
    kind: ExceptionType,
    subject: str,
    due_at: datetime,
    message: str,
    *,
    severity: Severity | None = None,
) -> DetectedException:
    """An exception of a type in :data:`FIXED_TYPES` (``severity`` overrides the type's)."""
    fixed_severity, owner = FIXED_TYPES[kind]
    return DetectedException(
        type=kind,
        severity=severity or fixed_severity,
        owner=owner,
        subject=subject,
        reason=None,
        message=message,
        customer_text=customer_text(kind, None),
        due_at=due_at,
    )


def detect(
    timeline: Timeline,
    now: datetime,
    thresholds: ThresholdSettings,
    predict: PredictSettings | None = None,
) -> list[DetectedException]:
    """The exceptions that should be open at ``now``: one per (subject, type), sorted by key.

    ``predict`` holds the ``trending_late`` thresholds (defaults when ``None``)."""
    candidates = list(_event_rules(timeline, thresholds))
    candidates += [c for c in _clocks(timeline, thresholds) if c.due_at <= now]
    # a shipment already late against its promise is not also "trending" late
    late = {c.subject for c in candidates if c.type is ExceptionType.LATE_VS_PROMISE}
    trends = _trending_late(timeline, predict or PredictSettings())
    candidates += [t for t in trends if t.subject not in late]
    return _one_per_key(candidates)


def overdue_clock_keys(
    timeline: Timeline, now: datetime, thresholds: ThresholdSettings
) -> set[tuple[str, ExceptionType]]:
    """(subject, type) of the clock rules whose deadline has passed at ``now``."""
    return {c.key for c in _clocks(timeline, thresholds) if c.due_at <= now}


def next_check_at(
    timeline: Timeline, now: datetime, thresholds: ThresholdSettings
) -> datetime | None:
    """The earliest time after ``now`` at which a clock rule would open something new."""
    detected = {d.key for d in detect(timeline, now, thresholds)}
    future = [
        c.due_at for c in _clocks(timeline, thresholds) if c.due_at > now and c.key not in detected
    ]
    return min(future, default=None)


def _one_per_key(candidates: list[DetectedException]) -> list[DetectedException]:
    """Merge candidates of one (subject, type): the most severe speaks, since the earliest."""
    groups: dict[tuple[str, ExceptionType], list[DetectedException]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.key, []).append(candidate)
    merged = []
    for key in sorted(groups):
        group = groups[key]
        speaker = min(group, key=lambda d: (-SEVERITY_RANK[d.severity], d.due_at, d.message))
        merged.append(replace(speaker, due_at=min(d.due_at for d in group)))
    return merged


# event rules -------------------------------------------------------------------------------


def _event_rules(timeline: Timeline, thresholds: ThresholdSettings) -> Iterator[DetectedException]:
    for shipment in timeline.shipments:
        yield from _carrier_signals(shipment)
        yield from _failed_attempts(shipment, thresholds)
        yield from _edd_beyond_promise(shipment)
    for payment in timeline.payments:
        if payment.status is PaymentStatus.FAILED:
            failed_at = max(s.occurred_at for s in payment.history if s.status is payment.status)
            why = f": {payment.failure_reason}" if payment.failure_reason else ""
            message = f"Payment {payment.payment_id} failed{why}"
            kind = ExceptionType.PAYMENT_CAPTURE_FAILED
            yield _fixed(kind, payment.payment_id, failed_at, message)


def _entered_at(shipment: ShipmentView, package: PackageView) -> datetime:
    """When the package got its current status and reason (the latest scan saying so)."""
    matching = [
        c.occurred_at
        for c in shipment.checkpoints
        if c.tracking_number == package.tracking_number
        and c.status is package.status
        and c.reason is package.reason
    ]
    at = max(matching, default=package.last_checkpoint_at)
    assert at is not None  # a package only leaves its initial status through a scan
    return at


def _last_message(shipment: ShipmentView, package: PackageView) -> str | None:
    scans: list[CheckpointView] = [
        c for c in shipment.checkpoints if c.tracking_number == package.tracking_number
    ]
    return scans[-1].message if scans else None


def _carrier_signals(shipment: ShipmentView) -> Iterator[DetectedException]:
    """What the carrier says about each undelivered package, classified into one type each."""
    for package in shipment.packages:
        status, reason = package.status, package.reason
        if status is TrackingStatus.DELIVERED or package.last_checkpoint_at is None:
            continue
        classified = _classify(status, reason)
        if classified is None:
            continue
        kind, severity, owner = classified
        what = _describe(status, reason, _last_message(shipment, package))
        yield DetectedException(
            type=kind,
            severity=severity,
            owner=owner,
            subject=shipment.shipment_id,
            reason=reason,
            message=f"Parcel {package.tracking_number}: {what}",
            customer_text=customer_text(kind, reason),
            due_at=_entered_at(shipment, package),
        )


def _classify(
    status: TrackingStatus, reason: Reason | None
) -> tuple[ExceptionType, Severity, Owner] | None:
    owner = owner_of(reason) if reason is not None else Owner.CARRIER
    if status in RETURN_STATUSES:
        return ExceptionType.RETURN_TO_SENDER, Severity.HIGH, _known(owner)
    if status is TrackingStatus.EXPIRED:
        return ExceptionType.LOST_OR_DAMAGED, Severity.HIGH, Owner.CARRIER
    if reason in _LOST_OR_DAMAGED:
        severity = Severity.CRITICAL if reason is Reason.CARRIER_LOST else Severity.HIGH
        return ExceptionType.LOST_OR_DAMAGED, severity, Owner.CARRIER
    if reason in _CUSTOMS:
        # duties are the consignee's to pay; everything else waits on the customs office
        payer = Owner.CONSIGNEE if reason is Reason.CUSTOMS_DUTIES_DUE else Owner.CUSTOMS
        severity = Severity.HIGH if reason in _SERIOUS_CUSTOMS else Severity.MEDIUM
        return ExceptionType.CUSTOMS_HOLD, severity, payer
    if status is TrackingStatus.ATTEMPT_FAIL:
        return None  # counted by the failed-attempts rule
    if status is TrackingStatus.EXCEPTION or (reason is not None and reason not in _BENIGN_REASONS):
        return ExceptionType.CARRIER_REPORTED, _carrier_severity(owner), _known(owner)
    return None


def _known(owner: Owner) -> Owner:
    return Owner.CARRIER if owner is Owner.NONE else owner


def _carrier_severity(owner: Owner) -> Severity:
    if owner is Owner.CONSIGNEE:
        return Severity.HIGH  # only the customer can unblock it (address, payment, refusal)
    if owner in (Owner.WEATHER, Owner.EXTERNAL):
        return Severity.LOW
    return Severity.MEDIUM


def _describe(status: TrackingStatus, reason: Reason | None, raw: str | None) -> str:
    said = status.value.replace("_", " ")
    if reason is not None and reason is not Reason.UNKNOWN:
        said += f" ({reason.value.replace('_', ' ')})"
    return f"{said} — carrier says: {raw[:_RAW_MESSAGE_CHARS]}" if raw else said


def _failed_attempts(
    shipment: ShipmentView, thresholds: ThresholdSettings
) -> Iterator[DetectedException]:
    if shipment.failed_attempts < thresholds.failed_attempts or shipment.status in ARRIVED_OR_GONE:
        return
    attempts = [c for c in shipment.checkpoints if c.status is TrackingStatus.ATTEMPT_FAIL]
    last = attempts[-1]
    severity = Severity.HIGH if shipment.failed_attempts >= 2 else Severity.MEDIUM
    owner = owner_of(last.reason) if last.reason is not None else Owner.CONSIGNEE
    count = shipment.failed_attempts
    yield DetectedException(
        type=ExceptionType.DELIVERY_ATTEMPT_FAILED,
        severity=severity,
        owner=_known(owner),
        subject=shipment.shipment_id,
        reason=last.reason,
        message=(
            f"Shipment {shipment.shipment_id}: {count} failed delivery attempt"
            f"{'s' if count > 1 else ''}, last: {_describe(last.status, last.reason, last.message)}"
        ),
        customer_text=customer_text(ExceptionType.DELIVERY_ATTEMPT_FAILED, last.reason),
        due_at=last.occurred_at,
    )


def _edd_beyond_promise(shipment: ShipmentView) -> Iterator[DetectedException]:
    promised, edd = shipment.promised_delivery_date, shipment.estimated_delivery
    if promised is None or edd is None or edd <= promised or shipment.status in ARRIVED_OR_GONE:
        return
    # since the revision that started the current run of estimates beyond the promise
    since = shipment.edd_history[-1].occurred_at
    for revision in reversed(shipment.edd_history):
        if revision.estimated_delivery <= promised:
            break
        since = revision.occurred_at
    message = _late(shipment, promised, f"carrier now expects {edd.isoformat()}")
    # only the estimate is late so far: less urgent than a promised day gone by
    kind = ExceptionType.LATE_VS_PROMISE
    yield _fixed(kind, shipment.shipment_id, since, message, severity=Severity.MEDIUM)


def _trending_late(timeline: Timeline, predict: PredictSettings) -> Iterator[DetectedException]:
    """wismo's own estimate says the promise will probably be missed (docs/exceptions.md).

    Opens at ``predict.threshold``; an open one stays open down to ``predict.clear_threshold``
    (hysteresis: an estimate wavering around the threshold does not open and close it in turn).
    Gone once the parcel arrived or left the way to the customer.
    """
    for shipment in timeline.shipments:
        prediction = shipment.prediction
        if prediction is None or prediction.p_late is None or shipment.status in ARRIVED_OR_GONE:
            continue
        if shipment.delivered_at is not None:
            continue
        kind = ExceptionType.TRENDING_LATE
        held = exception_id(timeline.order_id, kind.value, shipment.shipment_id)
        is_open = any(
            v.exception_id == held and v.state is not ExceptionState.RESOLVED
            for v in timeline.exceptions
        )
        threshold = predict.clear_threshold if is_open else predict.threshold
        if prediction.p_late < threshold:
            continue
        promised = prediction.promise or shipment.promised_delivery_date
        why = (
            f"{prediction.p_late:.0%} chance of arriving after the promise "
            f"{promised.isoformat() if promised else '?'}; wismo expects "
            f"{prediction.predicted_delivery.isoformat()} (from {prediction.samples} scans of "
            f"{_comparable(prediction.level, prediction.key)})"
        )
        yield DetectedException(
            type=kind,
            severity=trending_severity(prediction.p_late, timeline, predict),
            owner=Owner.CARRIER,
            subject=shipment.shipment_id,
            reason=None,
            message=f"Shipment {shipment.shipment_id} trending late: {why}",
            customer_text=customer_text(kind, None),
            due_at=prediction.computed_at,
        )


def _comparable(level: str, key: str) -> str:
    """The group an estimate rests on, for agents: ``all parcels`` or ``<level> group <key>``."""
    return "all parcels" if level == "global" else f"the {level.replace('_', ' ')} group {key}"


def trending_severity(p_late: float, timeline: Timeline, predict: PredictSettings) -> Severity:
    """Low below 75 %, medium below 90 %, high above; an order worth at least
    ``predict.high_value`` one step higher (never critical: it has not happened yet)."""
    rank = 0 if p_late < 0.75 else 1 if p_late < 0.9 else 2
    value = timeline.total_amount
    if value is not None and float(value) >= predict.high_value:
        rank = min(rank + 1, 2)
    return (Severity.LOW, Severity.MEDIUM, Severity.HIGH)[rank]


def _late(shipment: ShipmentView, promised: date, why: str) -> str:
    return f"Shipment {shipment.shipment_id} late vs promise {promised.isoformat()}: {why}"


# clock rules -------------------------------------------------------------------------------


def promise_deadline(promised: date, thresholds: ThresholdSettings) -> datetime:
    """The end of the promised day (UTC), plus the configured grace."""
    end_of_day = datetime.combine(promised + timedelta(days=1), time(0), tzinfo=UTC)
    return end_of_day + timedelta(hours=thresholds.late_grace_hours)


ClockRule = Callable[[Timeline, ThresholdSettings], Iterator[DetectedException]]
"""Yields the exceptions a timeline's deadlines would open, each due at its deadline."""


def _stalled(timeline: Timeline, thresholds: ThresholdSettings) -> Iterator[DetectedException]:
    """A moving parcel with no scan for ``stalled_hours``."""
    limit = thresholds.stalled_hours
    for shipment in timeline.shipments:
        for package in sorted(shipment.packages, key=lambda p: p.tracking_number):
            last = package.last_checkpoint_at
            if package.status not in MOVING_STATUSES or last is None:
                continue
            yield _fixed(
                ExceptionType.STALLED,
                shipment.shipment_id,
                last + timedelta(hours=limit),
                f"Parcel {package.tracking_number} ({package.status.value.replace('_', ' ')}): "
                f"no scan since {last:%Y-%m-%d %H:%M} UTC ({limit:g} h limit)",
            )


def _late_vs_promise(
    timeline: Timeline, thresholds: ThresholdSettings
) -> Iterator[DetectedException]:
    """A shipment still on its way when the promised day (plus grace) is over."""
    for shipment in timeline.shipments:
        promised = shipment.promised_delivery_date
        if promised is None or shipment.status in ARRIVED_OR_GONE:
            continue
        yield _fixed(
            ExceptionType.LATE_VS_PROMISE,
            shipment.shipment_id,
            promise_deadline(promised, thresholds),
            _late(shipment, promised, "not delivered on the promised day"),
        )


def _label_not_scanned(
    timeline: Timeline, thresholds: ThresholdSettings
) -> Iterator[DetectedException]:
    """A label created ``label_unscanned_hours`` ago that the carrier never scanned."""
    hours = thresholds.label_unscanned_hours
    for shipment in timeline.shipments:
        shipped_at = shipment.shipped_at
        if (
            not (shipment.tracking_number or shipment.packages)
            or timeline.cancelled
            or shipment.first_scan_at is not None
            or shipped_at is None
            or shipment.status in ARRIVED_OR_GONE
        ):
            continue
        subject = shipment.shipment_id
        yield _fixed(
            ExceptionType.LABEL_NOT_SCANNED,
            subject,
            shipped_at + timedelta(hours=hours),
            f"Shipment {subject} ({shipment.carrier or 'carrier unknown'} "
            f"{shipment.tracking_number or ''}): label created "
            f"{shipped_at:%Y-%m-%d %H:%M} UTC, no carrier scan after {hours:g} h",
        )


def _not_shipped_on_time(
    timeline: Timeline, thresholds: ThresholdSettings
) -> Iterator[DetectedException]:
    """An open fulfilment order of a live order past its ship-by (plus grace)."""
    if timeline.cancelled:
        return
    grace = timedelta(hours=thresholds.not_shipped_grace_hours)
    for fulfilment in timeline.fulfilment_orders:
        ship_by = fulfilment.ship_by
        if ship_by is None or fulfilment.status in _OPEN_FULFILMENT_DONE:
            continue
        subject = fulfilment.fulfilment_order_id
        where = f" at {fulfilment.warehouse}" if fulfilment.warehouse else ""
        why = f" ({fulfilment.reason})" if fulfilment.reason else ""
        yield _fixed(
            ExceptionType.NOT_SHIPPED_ON_TIME,
            subject,
            ship_by + grace,
            f"Fulfilment order {subject}{where} not shipped by "
            f"{ship_by:%Y-%m-%d %H:%M} UTC; still {fulfilment.status.value}{why}",
        )


def _refund_overdue(
    timeline: Timeline, thresholds: ThresholdSettings
) -> Iterator[DetectedException]:
    """A received return with no refund after ``refund_overdue_days``."""
    days = thresholds.refund_overdue_days
    for returned in timeline.returns:
        received = returned.received_at
        if returned.status is not ReturnStatus.RECEIVED or received is None:
            continue
        if _refunded_since(timeline, returned, received):
            continue
        subject = returned.return_id
        yield _fixed(
            ExceptionType.REFUND_OVERDUE,
            subject,
            received + timedelta(days=days),
            f"Return {subject} received {received:%Y-%m-%d %H:%M} UTC, "
            f"no refund after {days:g} days",
        )


def _refunded_since(timeline: Timeline, returned: ReturnView, since: datetime) -> bool:
    for refund in timeline.refunds:
        if refund.return_id == returned.return_id or refund.full:
            return True
        if refund.return_id is None and refund.issued_at >= since:
            return True
    return any(
        step.status is PaymentStatus.REFUNDED and step.occurred_at >= since
        for payment in timeline.payments
        for step in payment.history
    )


#: Every clock rule; each yields the deadlines it watches in a timeline.
CLOCK_RULES: tuple[ClockRule, ...] = (
    _stalled,
    _late_vs_promise,
    _label_not_scanned,
    _not_shipped_on_time,
    _refund_overdue,
)


def _clocks(timeline: Timeline, thresholds: ThresholdSettings) -> list[DetectedException]:
    return [clock for rule in CLOCK_RULES for clock in rule(timeline, thresholds)]


# what the customer reads -------------------------------------------------------------------


def customer_text(kind: ExceptionType, reason: Reason | None) -> str:
    """What the status page tells the customer (the next step), by type and reason."""
    if reason is not None and reason in CUSTOMER_TEXT_BY_REASON:
        return CUSTOMER_TEXT_BY_REASON[reason]
    return CUSTOMER_TEXT[kind]
