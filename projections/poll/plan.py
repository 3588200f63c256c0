"""What one changed timeline means for polling: parcels to (re)schedule, to forget, to register.

Pure: the poll agent (:mod:`streams.agents.poll`) feeds it every timeline it reads and carries
the plan out against the poll index and the tracker registration.

A shipment's parcel is polled when its carrier maps to a source with credentials (``polled``);
a final status or the age limit drops it. A parcel whose carrier is not polled is registered
with the tracking aggregator (``register_with``) instead, while it is still live, and polled
through the aggregator's tracker when the aggregator has credentials.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from projections.poll.cadence import is_final, next_poll_at, too_old
from projections.poll.index import PolledParcel
from projections.timeline_model import ShipmentView, Timeline
from wismo.settings import PollSettings

#: sources whose tracking API the poll role calls directly, by tracking number
DIRECT_SOURCES = ("ups", "fedex", "usps", "dhl")
_NOT_LETTERS = re.compile(r"[^a-z]")


def source_of_carrier(carrier: str | None) -> str | None:
    """The directly polled source a carrier name stands for (``"UPS"``, ``"FedEx Ground"``,
    ``"DHL Express"`` …), or ``None``."""
    if not carrier:
        return None
    letters = _NOT_LETTERS.sub("", carrier.lower())
    return next((source for source in DIRECT_SOURCES if letters.startswith(source)), None)


@dataclass(frozen=True, slots=True)
class Registration:
    """A parcel to register with the tracking aggregator, once."""

    tracking_number: str
    carrier: str | None
    order_id: str


@dataclass(slots=True)
class PollPlan:
    schedule: list[tuple[PolledParcel, datetime]] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    register: list[Registration] = field(default_factory=list)


def plan_timeline(
    timeline: Timeline,
    polled: Collection[str],
    register_with: str | None,
    now: datetime,
    settings: PollSettings,
) -> PollPlan:
    """The polling work ``timeline`` asks for at ``now``.

    ``polled``: the sources with credentials; ``register_with``: the aggregator parcels of other
    carriers are registered with (``None``: none). Those are polled through the aggregator
    (its tracker) when it is among ``polled``.
    """
    plan = PollPlan()
    for shipment in timeline.shipments:
        source = source_of_carrier(shipment.carrier) or _source_of_scans(shipment)
        if source not in polled:
            if register_with is None:
                continue
            _register(plan, timeline.order_id, shipment, register_with, now, settings)
            source = register_with
        if source is not None and source in polled:
            for parcel in _parcels(timeline.order_id, shipment, source):
                _poll(plan, parcel, now, settings)
    return plan


def _register(
    plan: PollPlan,
    order_id: str,
    shipment: ShipmentView,
    register_with: str,
    now: datetime,
    settings: PollSettings,
) -> None:
    for parcel in _parcels(order_id, shipment, register_with):
        if not (is_final(parcel.status) or too_old(parcel.started_at, now, settings)):
            plan.register.append(Registration(parcel.tracking_number, shipment.carrier, order_id))


def _poll(plan: PollPlan, parcel: PolledParcel, now: datetime, settings: PollSettings) -> None:
    at = next_poll_at(parcel.status, parcel.estimated_delivery, parcel.started_at, 0, now, settings)
    if at is None:
        plan.forget.append(parcel.tracking_number)
    else:
        plan.schedule.append((parcel, at))


def _parcels(order_id: str, shipment: ShipmentView, source: str) -> Iterator[PolledParcel]:
    """One parcel per package (or the shipment's own number), with what the cadence reads."""
    started = shipment.first_scan_at or shipment.shipped_at
    packages = [(p.tracking_number, p.status) for p in shipment.packages if p.tracking_number]
    if not packages and shipment.tracking_number:
        packages = [(shipment.tracking_number, shipment.status)]
    for number, status in packages:
        yield PolledParcel(
            tracking_number=number,
            source=source,
            order_id=order_id,
            status=status.value,
            estimated_delivery=shipment.estimated_delivery,
            started_at=started,
        )


def _source_of_scans(shipment: ShipmentView) -> str | None:
    """Without a carrier name, the carrier whose scans the shipment holds."""
    return next((c.source for c in shipment.checkpoints if c.source in DIRECT_SOURCES), None)
