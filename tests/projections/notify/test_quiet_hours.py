"""Quiet hours in the recipient's zone, across midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from projections.notify.quiet_hours import deliver_at, is_quiet

ZONES = ("UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
hours = st.integers(0, 23)


@given(moments, st.sampled_from(ZONES), hours, hours)
def test_the_delivery_time_is_never_early_never_quiet_and_within_a_day(
    now: datetime, zone: str, start: int, end: int
) -> None:
    at = deliver_at(now, zone, start, end)
    assert at.tzinfo is not None
    assert at >= now
    assert at - now <= timedelta(hours=25)
    local_now = now.astimezone(ZoneInfo(zone))
    if not is_quiet(local_now.hour, start, end):
        assert at == now
    else:  # the end of quiet hours: end:00 local, or later when the clocks skip that time
        local = at.astimezone(ZoneInfo(zone))
        wall = datetime(local.year, local.month, local.day, end, tzinfo=ZoneInfo(zone))
        skipped = wall.astimezone(UTC).astimezone(ZoneInfo(zone)).hour != end
        assert (local.hour, local.minute, local.second) == (end, 0, 0) or skipped


def test_a_window_across_midnight_ends_the_next_morning() -> None:
    evening = datetime(2026, 7, 1, 20, 30, tzinfo=UTC)  # 21:30 in London (BST)
    assert deliver_at(evening, "Europe/London", 21, 8) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    night = datetime(2026, 7, 2, 2, 0, tzinfo=UTC)  # 03:00 in London
    assert deliver_at(night, "Europe/London", 21, 8) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    noon = datetime(2026, 7, 2, 12, 0, tzinfo=UTC)
    assert deliver_at(noon, "Europe/London", 21, 8) == noon


def test_a_window_inside_one_day_and_no_window_at_all() -> None:
    lunch = datetime(2026, 1, 5, 13, 15, tzinfo=UTC)
    assert deliver_at(lunch, "UTC", 13, 14) == datetime(2026, 1, 5, 14, tzinfo=UTC)
    assert deliver_at(lunch, "UTC", 9, 9) == lunch


def test_the_end_follows_the_clocks_across_a_daylight_saving_change() -> None:
    # London springs forward at 01:00 UTC on 29 March 2026: 08:00 local is 07:00 UTC after it
    before = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 23:00 GMT
    assert deliver_at(before, "Europe/London", 21, 8) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    # New York falls back on 1 November 2026: 08:00 EST is 13:00 UTC
    night = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # midnight EDT
    assert deliver_at(night, "America/New_York", 21, 8) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_an_unknown_zone_counts_as_utc_and_naive_times_as_utc() -> None:
    late = datetime(2026, 5, 1, 23, 0, tzinfo=UTC)
    expected = datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
    assert deliver_at(late, "Mars/Olympus_Mons", 21, 8) == expected
    assert deliver_at(late, None, 21, 8) == expected
    assert deliver_at(late.replace(tzinfo=None), "UTC", 21, 8) == expected
