"""When a parcel is next polled: a pure function of its state and the poll settings.

* out for delivery: every ``out_for_delivery_s``; on the day the carrier expects to deliver
  (the estimated delivery date, UTC): every ``edd_day_s``; otherwise every ``in_transit_s``;
* each poll in a row that brought nothing new multiplies the interval by ``quiet_factor``, up to
  ``max_interval_s`` (a parcel sitting in a depot over a weekend costs a few calls, not dozens);
* never after a final status, nor once the parcel is ``max_age_days`` past its first scan or
  shipping (a parcel that old is a case for a person, not a poller).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from wismo.settings import PollSettings
from wismo.vocab import TrackingStatus

#: statuses after which a carrier has nothing more to say about the parcel
FINAL = frozenset(
    {TrackingStatus.DELIVERED, TrackingStatus.RETURNED_TO_SENDER, TrackingStatus.EXPIRED}
)


def is_final(status: str | None) -> bool:
    return status in FINAL


def base_interval_s(
    status: str | None, estimated_delivery: date | None, now: datetime, settings: PollSettings
) -> float:
    """The interval the parcel's state asks for before any quiet polls stretch it."""
    if status == TrackingStatus.OUT_FOR_DELIVERY:
        return settings.out_for_delivery_s
    if estimated_delivery is not None and estimated_delivery == now.date():
        return settings.edd_day_s
    return settings.in_transit_s


def interval_s(base_s: float, quiet_polls: int, settings: PollSettings) -> float:
    """``base_s`` stretched by ``quiet_factor`` per quiet poll, capped at ``max_interval_s``."""
    interval = min(base_s, settings.max_interval_s)
    if settings.quiet_factor == 1:
        return interval
    for _ in range(quiet_polls):
        interval *= settings.quiet_factor
        if interval >= settings.max_interval_s:
            return settings.max_interval_s
    return interval


def next_poll_at(
    status: str | None,
    estimated_delivery: date | None,
    started_at: datetime | None,
    quiet_polls: int,
    now: datetime,
    settings: PollSettings,
) -> datetime | None:
    """When to poll next (``now`` is UTC-aware), or ``None`` when the parcel is done with."""
    if is_final(status) or too_old(started_at, now, settings):
        return None
    base = base_interval_s(status, estimated_delivery, now, settings)
    return now + timedelta(seconds=interval_s(base, quiet_polls, settings))


def too_old(started_at: datetime | None, now: datetime, settings: PollSettings) -> bool:
    return started_at is not None and now - started_at >= timedelta(days=settings.max_age_days)
