"""Stalled first: a polled parcel is re-checked with its carrier before it is called stalled.

Pure decision for the sweeper (:mod:`streams.agents.sweeper`). When the "stalled" rule fires for
a parcel the poll role polls, the sweeper asks for an immediate re-poll and waits ``grace_s``
for the answer to travel the pipeline; the exception opens only if the parcel is still stalled
after that. A request made before the parcel became stalled (an earlier episode) does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from projections.poll.index import PollInfo


@dataclass(frozen=True, slots=True)
class StallDecision:
    """``request``: ask for a re-poll now; ``hold_until``: do not open before (``None``: open)."""

    request: bool
    hold_until: datetime | None


OPEN = StallDecision(request=False, hold_until=None)


def stalled_first(
    info: PollInfo | None, stalled_since: datetime, now: datetime, grace_s: float
) -> StallDecision:
    """What to do about a parcel the stalled rule says has been stalled since ``stalled_since``
    (``info``: its poll index entry; ``None``: the parcel is not polled, so open)."""
    if info is None:
        return OPEN
    requested = info.requested_at
    if requested is None or requested < stalled_since:
        return StallDecision(request=True, hold_until=now + timedelta(seconds=grace_s))
    until = requested + timedelta(seconds=grace_s)
    return StallDecision(request=False, hold_until=until) if now < until else OPEN
