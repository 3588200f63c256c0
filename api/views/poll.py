"""Re-check with carrier: what the poll role knows of a parcel, and asking it to poll now.

``GET /v1/agent/parcels/{tracking_number}/poll`` says when the parcel was last polled, when it
is next due and what the last poll found (any agent role). ``POST …/recheck`` makes it due at
once (agents and supervisors): the poll role takes it within its next round, and what the carrier
says enters as raw payloads like a webhook, so the console sees the result through its usual
live updates. A parcel the poll role does not poll (never shipped with a polled carrier, final,
too old) is ``404``: there is nothing to re-check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from api.auth import ACT_ROLES
from api.errors import BadRequest, NotFound
from api.keys import CLOCK, REDIS, SETTINGS
from api.views.agent import agent, sees_parcel
from api.views.respond import json
from projections.poll.index import PollIndex, PollInfo

MAX_TRACKING_NUMBER = 100
# the blanks the document's `\S` pattern means (ECMAScript's); str.strip() would also take the
# ASCII separators \x1c-\x1f, which the document counts as characters
_BLANKS = " \t\n\r\f\v"


def _index(request: web.Request) -> PollIndex:
    settings = request.app[SETTINGS]
    return PollIndex(
        request.app[REDIS], settings.redis.key_prefix, url=settings.redis.url or "redis"
    )


def _tracking_number(request: web.Request) -> str:
    number = request.match_info["tracking_number"].strip(_BLANKS)
    if not number or len(number) > MAX_TRACKING_NUMBER:
        raise BadRequest(f"tracking_number must be 1 to {MAX_TRACKING_NUMBER} characters")
    return number


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def poll_document(info: PollInfo) -> dict[str, Any]:
    parcel = info.parcel
    return {
        "tracking_number": parcel.tracking_number,
        "source": parcel.source or None,
        "order_id": parcel.order_id,
        "status": parcel.status,
        "last_polled_at": _instant(info.last_polled_at),
        "next_poll_at": _instant(info.next_poll_at),
        "last_result": info.last_result,
        "quiet_polls": info.quiet_polls,
        "requested_at": _instant(info.requested_at),
    }


async def poll_info(request: web.Request) -> web.Response:
    who = agent(request)
    number = _tracking_number(request)
    info = await _index(request).info(number)
    if info is None or not await sees_parcel(request, who, number):
        raise NotFound(f"parcel {number} is not polled")
    return json(poll_document(info))


async def recheck(request: web.Request) -> web.Response:
    who = agent(request, ACT_ROLES)
    number = _tracking_number(request)
    index = _index(request)
    now = request.app[CLOCK]()
    if not await sees_parcel(request, who, number):  # another brand's parcel: as unknown
        raise NotFound(f"parcel {number} is not polled; there is nothing to re-check")
    if not await index.request_now(number, now):
        raise NotFound(f"parcel {number} is not polled; there is nothing to re-check")
    info = await index.info(number)
    if info is None:  # forgotten (final status) between the two calls
        raise NotFound(f"parcel {number} is not polled; there is nothing to re-check")
    body = {
        "status": "accepted",
        "tracking_number": number,
        "by": who.agent_id,
        "at": now.isoformat(),
        "poll": poll_document(info),
    }
    return json(body, status=202)
