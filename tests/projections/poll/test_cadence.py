"""The poll cadence: state picks the interval, quiet polls stretch it, final or old stops it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections.poll.cadence import FINAL, next_poll_at
from wismo.settings import PollSettings
from wismo.vocab import TrackingStatus

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SETTINGS = PollSettings()

settings_st = st.builds(
    PollSettings,
    in_transit_s=st.floats(1, 1e6),
    edd_day_s=st.floats(1, 1e6),
    out_for_delivery_s=st.floats(1, 1e6),
    quiet_factor=st.floats(1, 1e3),
    max_interval_s=st.floats(1, 1e7),
    max_age_days=st.floats(0.01, 365),
)
nows = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
live_statuses = st.sampled_from([s for s in TrackingStatus if s not in FINAL])
edds = st.none() | st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 1, 1))


def test_each_state_has_its_interval() -> None:
    hours = timedelta(hours=1)
    assert next_poll_at("in_transit", None, T, 0, T, SETTINGS) == T + 4 * hours
    assert next_poll_at("in_transit", T.date(), T, 0, T, SETTINGS) == T + hours
    assert next_poll_at("out_for_delivery", None, T, 0, T, SETTINGS) == T + hours
    assert next_poll_at("in_transit", None, T, 2, T, SETTINGS) == T + 16 * hours
    assert next_poll_at("in_transit", None, T, 50, T, SETTINGS) == T + 24 * hours


@given(st.sampled_from(sorted(FINAL)), edds, st.integers(0, 1000), nows, settings_st)
def test_no_poll_after_a_final_status(
    status: str, edd: date | None, quiet: int, now: datetime, settings: PollSettings
) -> None:
    assert next_poll_at(status, edd, now - timedelta(hours=1), quiet, now, settings) is None


@given(live_statuses, edds, st.integers(0, 1000), nows, settings_st, st.floats(0, 2))
def test_no_poll_past_the_maximum_age(
    status: str, edd: date | None, quiet: int, now: datetime, settings: PollSettings, over: float
) -> None:
    started = now - timedelta(days=settings.max_age_days) - timedelta(days=over)
    assert next_poll_at(status, edd, started, quiet, now, settings) is None


@given(live_statuses, edds, st.integers(0, 1000), nows, settings_st)
def test_a_live_parcel_is_polled_later_but_within_the_maximum_interval(
    status: str, edd: date | None, quiet: int, now: datetime, settings: PollSettings
) -> None:
    at = next_poll_at(status, edd, None, quiet, now, settings)
    assert at is not None
    assert now < at <= now + timedelta(seconds=settings.max_interval_s)


@given(live_statuses, edds, st.integers(0, 200), nows, settings_st)
def test_a_quiet_poll_never_brings_the_next_one_closer(
    status: str, edd: date | None, quiet: int, now: datetime, settings: PollSettings
) -> None:
    sooner = next_poll_at(status, edd, None, quiet, now, settings)
    later = next_poll_at(status, edd, None, quiet + 1, now, settings)
    assert sooner is not None
    assert later is not None
    assert sooner <= later
