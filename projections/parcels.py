"""Parcel events (checkpoints, EDD revisions) routed to the package, shipment or return that
names their tracking number, with the no-regression rule applied per package."""

from __future__ import annotations

from collections.abc import Iterable

from projections.timeline_model import (
    CheckpointView,
    EddRevision,
    PackageView,
    ReturnView,
    ShipmentView,
    Timeline,
)
from wismo.events import EddRevisedEvent, TrackingCheckpointEvent
from wismo.vocab import (
    PRE_TRANSIT_STATUSES,
    STATUS_RANK,
    TROUBLE_STATUSES,
    TrackingStatus,
    status_may_follow,
)


def checkpoint_view(event: TrackingCheckpointEvent) -> CheckpointView:
    p = event.payload
    return CheckpointView(
        event_id=event.event_id,
        source=event.source,
        tracking_number=event.tracking_number or "",
        occurred_at=event.occurred_at,
        status=p.status,
        reason=p.reason,
        raw_code=p.raw_code,
        message=p.message,
        location=p.location,
        carrier=p.carrier,
        estimated_delivery=p.estimated_delivery,
        signed_by=p.signed_by,
        proof_of_delivery_url=p.proof_of_delivery_url,
    )


class ParcelRouter:
    """Routes a canonical sequence of parcel events onto a timeline's shipments and returns."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._packages: dict[str, tuple[ShipmentView, PackageView]] = {}
        for shipment in timeline.shipments:
            for package in shipment.packages:
                self._packages.setdefault(package.tracking_number, (shipment, package))
        self._returns: dict[str, ReturnView] = {
            r.tracking_number: r for r in timeline.returns if r.tracking_number is not None
        }

    def route(self, events: Iterable[TrackingCheckpointEvent | EddRevisedEvent]) -> None:
        for event in events:
            if isinstance(event, TrackingCheckpointEvent):
                self._checkpoint(checkpoint_view(event))
            else:
                self._edd(event)
        for shipment in self.timeline.shipments:
            _settle_shipment(shipment)

    def _checkpoint(self, checkpoint: CheckpointView) -> None:
        number = checkpoint.tracking_number
        if number in self._packages:
            shipment, package = self._packages[number]
            _apply_to_package(package, checkpoint)
            _apply_to_shipment(shipment, checkpoint)
        elif number in self._returns:
            returned = self._returns[number]
            returned.checkpoints.append(checkpoint)
            if status_may_follow(returned.carrier_status, checkpoint.status):
                returned.carrier_status = checkpoint.status
        else:
            self.timeline.orphan_checkpoints.append(checkpoint)

    def _edd(self, event: EddRevisedEvent) -> None:
        p = event.payload
        revision = EddRevision(
            occurred_at=event.occurred_at,
            estimated_delivery=p.estimated_delivery,
            source=event.source,
            window_start=p.window_start,
            window_end=p.window_end,
            reason=p.reason,
        )
        target = self._packages.get(event.tracking_number or "")
        if target is None:
            self.timeline.orphan_edd_revisions.append(revision)
        else:
            target[0].edd_history.append(revision)


def _apply_to_package(package: PackageView, checkpoint: CheckpointView) -> None:
    package.last_checkpoint_at = checkpoint.occurred_at
    if status_may_follow(package.status, checkpoint.status):
        package.status, package.reason = checkpoint.status, checkpoint.reason
        if checkpoint.status is TrackingStatus.DELIVERED:
            package.delivered_at = checkpoint.occurred_at


def _apply_to_shipment(shipment: ShipmentView, checkpoint: CheckpointView) -> None:
    shipment.checkpoints.append(checkpoint)
    shipment.last_checkpoint_at = checkpoint.occurred_at
    status, at = checkpoint.status, checkpoint.occurred_at
    if status not in PRE_TRANSIT_STATUSES and status is not TrackingStatus.UNKNOWN:
        shipment.first_scan_at = shipment.first_scan_at or at
    if status is TrackingStatus.OUT_FOR_DELIVERY:
        shipment.out_for_delivery_at = shipment.out_for_delivery_at or at
    if status in (TrackingStatus.ATTEMPT_FAIL, TrackingStatus.DELIVERED):
        shipment.first_attempt_at = shipment.first_attempt_at or at
    if status is TrackingStatus.ATTEMPT_FAIL:
        shipment.failed_attempts += 1
    if status is TrackingStatus.RETURNED_TO_SENDER:
        shipment.returned_at = shipment.returned_at or at
    if checkpoint.estimated_delivery is not None:
        shipment.edd_history.append(
            EddRevision(at, checkpoint.estimated_delivery, source=checkpoint.source)
        )


def _aggregate_package(packages: list[PackageView]) -> PackageView | None:
    """The package whose state speaks for the shipment: trouble first, then the least advanced."""
    if not packages:
        return None
    undelivered = [p for p in packages if p.status is not TrackingStatus.DELIVERED]
    troubled = [p for p in undelivered if p.status in TROUBLE_STATUSES]
    if troubled:
        return max(troubled, key=lambda p: (STATUS_RANK[p.status], p.tracking_number))
    candidates = undelivered or packages
    return min(candidates, key=lambda p: (STATUS_RANK[p.status], p.tracking_number))


def _settle_shipment(shipment: ShipmentView) -> None:
    speaker = _aggregate_package(shipment.packages)
    if speaker is not None:
        shipment.status, shipment.reason = speaker.status, speaker.reason
    if shipment.status is TrackingStatus.DELIVERED:
        shipment.delivered_at = max(
            (p.delivered_at for p in shipment.packages if p.delivered_at), default=None
        )
    history = sorted(
        shipment.edd_history, key=lambda r: (r.occurred_at, r.estimated_delivery, r.source)
    )
    collapsed: list[EddRevision] = []
    for revision in history:
        if not collapsed or collapsed[-1].estimated_delivery != revision.estimated_delivery:
            collapsed.append(revision)
    shipment.edd_history = collapsed
    delivered = [c for c in shipment.checkpoints if c.status is TrackingStatus.DELIVERED]
    shipment.signed_by = _newest(delivered, "signed_by")
    shipment.proof_of_delivery_url = _newest(delivered, "proof_of_delivery_url")
    if collapsed:
        shipment.carrier_edd_first = collapsed[0].estimated_delivery
        shipment.estimated_delivery = collapsed[-1].estimated_delivery
        shipment.estimated_window_start = collapsed[-1].window_start
        shipment.estimated_window_end = collapsed[-1].window_end


def _newest(delivered: list[CheckpointView], name: str) -> str | None:
    """The ``name`` field of the newest delivered scan that has one (by instant, then id, so
    the order the scans arrived in does not matter)."""
    said = [c for c in delivered if getattr(c, name) is not None]
    newest = max(said, key=lambda c: (c.occurred_at, c.event_id), default=None)
    return None if newest is None else str(getattr(newest, name))
