"""Timestamps, UTC offsets and calendar dates as sources write them; ``None`` for what is not
one, and the problem to report for an event whose time cannot be read."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from carriers.base import Problem, ProblemCode

_OFFSET = re.compile(r"^(?:Z|UTC|GMT|(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?)$", re.IGNORECASE)


def parse_offset(value: object) -> timezone | None:
    """A UTC offset written as ``Z``, ``+05:00``, ``-0500`` or ``+5``; ``None`` if not one."""
    if not isinstance(value, str):
        return None
    match = _OFFSET.match(value.strip())
    if match is None:
        return None
    if match["sign"] is None:
        return UTC
    hours, minutes = int(match["h"]), int(match["m"] or 0)
    if hours > 18 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if match["sign"] == "-" else delta)


def parse_timestamp(value: object, naive_tz: tzinfo | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime; ``None`` when it is not one.

    A timestamp without an offset is read in ``naive_tz`` (the location's offset, or the
    source's documented convention, which the caller names); with ``naive_tz=None`` it is
    rejected rather than guessed.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if naive_tz is None:
            return None
        parsed = parsed.replace(tzinfo=naive_tz)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def unreadable_time(value: object, path: str) -> Problem:
    """The ``INVALID`` problem for an event whose time is missing or not a timestamp: without
    a time it cannot be placed on the timeline, so it is reported rather than guessed."""
    if value is None or value == "":
        return Problem(ProblemCode.INVALID, "missing time", path)
    return Problem(ProblemCode.INVALID, f"unreadable time {value!r}", path)


def parse_date(value: object) -> date | None:
    """A calendar date from ``2024-05-01``, ``20240501`` or the date part of a timestamp.

    The date part is taken as written (the carrier's local date), never shifted to UTC: an
    estimated delivery date is a day at the destination, not an instant.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    candidate = value.strip()
    try:
        return datetime.fromisoformat(candidate).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(candidate[:10])
    except ValueError:
        return None
