"""Unmatched scans: tracking events parked because no order names their number, and linking a
number to an order by hand (a ``shipment.linked`` event that releases them).

``GET /v1/agent/unmatched`` lists the parked numbers, newest first parked first, searched by
number prefix or carrier, a page at a time (any agent role). ``POST
/v1/agent/unmatched/{tracking_number}/link`` (agent or supervisor) produces the link event: it
goes to the events topic (the audit record, the order's timeline) and to the tracking topic,
where the link agent records the link and releases the parked scans onto the order. The event id
is deterministic (the ``Idempotency-Key`` header, else the request's content), so a retried
request is one event; each link takes a token from the agent's action bucket
(``settings.selfservice.agent_actions_per_minute``, shared with the other agent actions).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from api.auth import ACT_ROLES
from api.errors import BadRequest, Conflict, NotFound, Unprocessable
from api.kafka import write
from api.keys import CLOCK, PRODUCER, SETTINGS, STORE
from api.views.agent import (
    NOT_BLANK,
    action_allowed,
    agent,
    idempotency_key,
    known_parameters,
    sees_order,
)
from api.views.body import json_object
from api.views.respond import json
from projections.unmatched import decode_cursor, link_by_hand, normalise_query
from wismo.errors import describe_validation_error
from wismo.topics import route

LIST_PARAMETERS = frozenset({"q", "limit", "cursor"})
LINK_FIELDS = frozenset({"order_id", "carrier", "note"})
_DEFAULT_LIMIT = 50
_MAX_LIMIT = 200
_QUERY_CHARS = 64
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")
_FIELD_CHARS = {"order_id": 128, "carrier": 128, "note": 2000}
#: a tracking number as the console shows them (the document's pattern)
_NUMBER = re.compile(r"[A-Za-z0-9-]{4,64}")


def add_unmatched_routes(app: web.Application) -> None:
    app.router.add_get("/v1/agent/unmatched", list_unmatched)
    app.router.add_post("/v1/agent/unmatched/{tracking_number}/link", link_number)


async def list_unmatched(request: web.Request) -> web.Response:
    agent(request)
    known_parameters(request, LIST_PARAMETERS)
    query = request.query
    q = query.get("q", "")
    if len(q) > _QUERY_CHARS:
        raise BadRequest(f"q must be at most {_QUERY_CHARS} characters")
    raw_limit = query.get("limit", str(_DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(raw_limit) or int(raw_limit) > _MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {_MAX_LIMIT}")
    cursor = None
    if "cursor" in query and (cursor := decode_cursor(query["cursor"])) is None:
        raise BadRequest("cursor must be the next_cursor of a previous page")
    rows, following, total = await request.app[STORE].links.unmatched(
        normalise_query(q), int(raw_limit), cursor
    )
    return json(
        {
            "numbers": [row.to_dict() for row in rows],
            "next_cursor": None if following is None else following.encode(),
            "total": total,
        }
    )


async def link_number(request: web.Request) -> web.Response:
    who = agent(request, ACT_ROLES)
    app = request.app
    if not _NUMBER.fullmatch(request.match_info["tracking_number"]):
        raise BadRequest("the tracking number must be 4 to 64 letters, digits or dashes")
    body = await _link_body(request)
    key = idempotency_key(request)
    await action_allowed(request, who)
    order_id = body["order_id"]
    if not await sees_order(request, who, order_id):  # another brand's order: as unknown
        raise NotFound(f"order {order_id} is not known")
    now = app[CLOCK]()
    try:
        event = link_by_hand(
            order_id,
            request.match_info["tracking_number"],
            by=who.agent_id,
            carrier=body.get("carrier"),
            note=body.get("note"),
            idempotency_key=key,
            now=now,
        )
    except ValidationError as error:
        raise Unprocessable(describe_validation_error(error)) from error
    number = event.tracking_number or ""
    linked_to = await app[STORE].order_for_tracking(number)
    if linked_to not in (None, order_id):
        raise Conflict(f"{number} is already linked to order {linked_to}")
    parked = await app[STORE].links.parked_count(number)
    settings = app[SETTINGS]
    await write(
        app[PRODUCER],
        [(settings.topic(out.topic), out.key.encode(), out.value, None) for out in route(event)],
    )
    answer = {"status": "accepted", "event_id": event.event_id, "order_id": order_id}
    answer |= {"tracking_number": number, "parked_scans": parked, "by": who.agent_id}
    return json({**answer, "at": now.isoformat()}, status=202)


async def _link_body(request: web.Request) -> dict[str, Any]:
    body = await json_object(request, request.app[SETTINGS].api.max_body_bytes)
    unknown = sorted(set(body) - LINK_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; known: carrier, note, order_id")
    if "order_id" not in body:
        raise BadRequest("order_id is required")
    for name, most in _FIELD_CHARS.items():
        value = body.get(name)
        if name in body and (
            not isinstance(value, str) or len(value) > most or not NOT_BLANK.search(value)
        ):
            raise BadRequest(f"{name} must be text of at most {most} characters, not blank")
    return {name: value.strip() for name, value in body.items()}
