"""Timestamps, offsets and dates as sources write them (:mod:`carriers.times`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.times import parse_date, parse_offset, parse_timestamp

PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "naive_tz", "expected"),
    [
        ("2024-05-01T10:30:00Z", None, datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00+08:00", None, datetime(2024, 5, 1, 2, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00-0500", None, datetime(2024, 5, 1, 15, 30, tzinfo=UTC)),
        ("2024-05-01 10:30:00.123456789", UTC, datetime(2024, 5, 1, 10, 30, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T10:30:00", PLUS_2, datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00", None, None),  # no offset and no convention: not guessed
        ("yesterday", UTC, None),
        ("", UTC, None),
        (None, UTC, None),
        (1714560000, UTC, None),
    ],
)
def test_parse_timestamp(
    text: object, naive_tz: timezone | None, expected: datetime | None
) -> None:
    assert parse_timestamp(text, naive_tz) == expected


@given(st.text(max_size=40))
def test_parse_timestamp_never_raises(text: str) -> None:
    result = parse_timestamp(text, timezone(timedelta(hours=-14)))
    assert result is None or result.tzinfo is UTC


def test_parse_timestamp_at_the_edge_of_the_calendar() -> None:
    assert parse_timestamp("0001-01-01T00:00:00", timezone(timedelta(hours=5))) is None
    assert parse_timestamp("9999-12-31T23:59:59-05:00", None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Z", UTC),
        ("+05:30", timezone(timedelta(hours=5, minutes=30))),
        ("-0500", timezone(timedelta(hours=-5))),
        ("+5", timezone(timedelta(hours=5))),
        ("+19:00", None),
        ("EST", None),
    ],
)
def test_parse_offset(text: str, expected: timezone | None) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-03", date(2024, 5, 3)),
        ("20240503", date(2024, 5, 3)),
        ("2024-05-03T23:30:00-07:00", date(2024, 5, 3)),  # the local date, not shifted to UTC
        ("2024-05-03T00:00:00Z", date(2024, 5, 3)),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_date(text: str | None, expected: date | None) -> None:
    assert parse_date(text) == expected
