"""Reading a ``Retry-After`` header, the one way every outbound client does."""

from __future__ import annotations

from datetime import UTC, datetime

from carriers.http import retry_after_seconds


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(" 1.5 ", now) == 1.5
    assert retry_after_seconds("-3", now) == 0.0
    assert retry_after_seconds("Mon, 02 Mar 2026 08:01:00 GMT", now) == 60.0
    assert retry_after_seconds("Mon, 02 Mar 2026 07:00:00 GMT", now) == 0.0
    assert retry_after_seconds("nan", now) is None
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("", now) is None
    assert retry_after_seconds(None, now) is None
