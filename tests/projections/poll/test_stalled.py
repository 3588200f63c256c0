"""Stalled first: request a re-poll, hold for the grace period, then open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from projections.poll.index import PolledParcel, PollInfo
from projections.poll.stalled import OPEN, StallDecision, stalled_first

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GRACE = 300.0
SINCE = T - timedelta(minutes=1)


def _info(requested_at: datetime | None) -> PollInfo:
    parcel = PolledParcel("1Z1", "ups", "O1", "in_transit")
    return PollInfo(parcel, None, None, None, 0, None, requested_at)


def test_a_parcel_that_is_not_polled_opens_at_once() -> None:
    assert stalled_first(None, SINCE, T, GRACE) == OPEN


def test_a_polled_parcel_is_rechecked_first() -> None:
    hold = StallDecision(request=True, hold_until=T + timedelta(seconds=GRACE))
    assert stalled_first(_info(None), SINCE, T, GRACE) == hold
    # a request of an earlier episode does not count
    assert stalled_first(_info(SINCE - timedelta(days=2)), SINCE, T, GRACE) == hold


def test_it_is_held_for_the_grace_period_then_opened() -> None:
    asked = _info(T)
    later = T + timedelta(seconds=GRACE - 1)
    assert stalled_first(asked, SINCE, later, GRACE) == StallDecision(
        request=False, hold_until=T + timedelta(seconds=GRACE)
    )
    assert stalled_first(asked, SINCE, T + timedelta(seconds=GRACE), GRACE) == OPEN
