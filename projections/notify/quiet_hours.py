"""Quiet hours: no customer message between ``start_hour`` and ``end_hour`` of the recipient's
local day. A message falling inside them waits for their end, in the recipient's own zone.

Pure and clock-free: the caller passes ``now``. Windows may cross midnight (21 → 8) or not
(13 → 14); equal hours mean no quiet hours at all. Local times are reckoned with :mod:`zoneinfo`,
so a window that ends across a daylight-saving change ends at the right UTC instant; an end hour
that falls in a spring-forward gap ends when the clocks resume. An unknown zone name counts as
UTC rather than failing the message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_of(name: str | None) -> tzinfo:
    """The zone named ``name`` (an IANA name such as ``Europe/London``), UTC when unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def is_quiet(hour: int, start_hour: int, end_hour: int) -> bool:
    """Whether a local wall-clock ``hour`` lies inside the quiet window."""
    if start_hour == end_hour:
        return False
    if start_hour < end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour


def deliver_at(now: datetime, time_zone: str | None, start_hour: int, end_hour: int) -> datetime:
    """When a message planned at ``now`` may go out (UTC): ``now`` itself outside quiet hours,
    else the next ``end_hour:00`` in the recipient's zone."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    zone = zone_of(time_zone)
    local = now.astimezone(zone)
    if not is_quiet(local.hour, start_hour, end_hour):
        return now.astimezone(UTC)
    day = local.date() if local.hour < end_hour else local.date() + timedelta(days=1)
    # Wall-clock arithmetic on the date, then placed in the zone: right across DST changes.
    end = datetime(day.year, day.month, day.day, end_hour, tzinfo=zone)
    return max(end.astimezone(UTC), now.astimezone(UTC))
