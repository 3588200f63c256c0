"""The agent API: full timelines with raw events and dedup decisions, search, the exception
queue with acknowledge/resolve, and an order's dead letters. Every route needs an agent JWT."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import orjson
from aiohttp import web

from api.auth import ACT_ROLES, READ_ROLES, Agent, agent_from_token, bearer
from api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unprocessable,
)
from api.guards import SHARED_LIMITER
from api.kafka import write
from api.keys import AGENT_INDEX, CLOCK, PRODUCER, SETTINGS, STORE
from api.personal import SEES_PERSONAL_DATA, for_roles, sees_personal_data
from api.ratelimit import Limit
from api.views.body import raw_body
from api.views.orders import timeline_document
from api.views.respond import json
from projections.agent_index import UNASSIGNED, ExceptionQuery, select_exceptions, with_age
from projections.exception_flow import AgentAction, Refusal, agent_action, timeline_from_json
from wismo.events import event_to_dict
from wismo.topics import route
from wismo.vocab import ExceptionState, ExceptionType, Severity

_REFUSALS: dict[int, type[ApiError]] = {404: NotFound, 409: Conflict, 422: Unprocessable}
_MAX_LIMIT = 1000
_MAX_NOTE = 2000
#: a character that is blank neither here (``str.strip``) nor in the document (ECMA ``\s``)
NOT_BLANK = re.compile(r"[^\s\x1c-\x1f\x85\ufeff]")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")


SEARCH_PARAMETERS = frozenset({"q", "order_number", "tracking_number", "email"})
QUEUE_PARAMETERS = frozenset(
    {
        "brand",
        "status",
        "type",
        "severity",
        "carrier",
        "min_age_hours",
        "max_age_hours",
        "limit",
        "assignee",
        "escalated",
    }
)


def known_parameters(request: web.Request, allowed: frozenset[str]) -> None:
    """A misspelt filter is refused rather than silently ignored (which would list everything)."""
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )


def idempotency_key(request: web.Request) -> str | None:
    """The client's ``Idempotency-Key`` header (1 to 128 visible ASCII characters), if any."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 128 visible ASCII characters")
    return key


def _action_limit(request: web.Request) -> Limit:
    per_minute = request.app[SETTINGS].selfservice.agent_actions_per_minute
    return Limit("agent-actions", per_minute / 60, per_minute)


async def take_action(request: web.Request, who: Agent) -> float:
    """One action of ``who`` from the bucket every agent action shares: 0 when allowed, else
    the seconds until the next one is."""
    return await request.app[SHARED_LIMITER].take((_action_limit(request), who.agent_id))


async def action_allowed(request: web.Request, who: Agent) -> None:
    """429 with Retry-After once ``who`` used up ``selfservice.agent_actions_per_minute``."""
    wait = await take_action(request, who)
    if wait:
        raise TooManyRequests(f"too many actions by {who.agent_id}", retry_after_s=wait)


def agent(request: web.Request, needs: frozenset[str] = READ_ROLES) -> Agent:
    secret = request.app[SETTINGS].api.agent_jwt_secret
    return agent_from_token(secret, bearer(request.headers), needs)


def unrestricted_agent(request: web.Request, needs: frozenset[str] = READ_ROLES) -> Agent:
    """As :func:`agent`, for what spans every brand (webhook subscriptions): a token naming
    ``brands`` is refused (403)."""
    who = agent(request, needs)
    if who.brands is not None:
        raise Forbidden("this needs an agent token without a brands restriction")
    return who


async def visible_timeline(request: web.Request, who: Agent, order_id: str) -> dict[str, Any]:
    """The order's timeline document if ``who`` may see its brand; 404 exactly as a missing
    order otherwise (no oracle)."""
    timeline = await timeline_document(request, order_id)
    if not who.sees(timeline.get("brand")):
        raise NotFound(f"order {order_id} is not known")
    return timeline


async def sees_order(request: web.Request, who: Agent, order_id: str | None) -> bool:
    """Whether ``order_id`` is a stored order ``who`` may see (its brand in the agent's)."""
    raw = None if not order_id else await request.app[STORE].timeline(order_id)
    return raw is not None and who.sees(orjson.loads(raw).get("brand"))


async def sees_parcel(request: web.Request, who: Agent, tracking_number: str) -> bool:
    """Whether ``who`` may see the parcel: any parcel for an unrestricted agent, else one whose
    order is of the agent's brands (an unmatched parcel belongs to no brand)."""
    if who.brands is None:
        return True
    order_id = await request.app[STORE].order_for_tracking(tracking_number)
    return await sees_order(request, who, order_id)


async def order_detail(request: web.Request) -> web.Response:
    who = agent(request)
    order_id = request.match_info["order_id"]
    store = request.app[STORE]
    timeline = await visible_timeline(request, who, order_id)
    events = await store.events(order_id)
    duplicates = await store.duplicates(order_id)
    numbers = sorted(
        {s["tracking_number"] for s in timeline["shipments"] if s.get("tracking_number")}
    )
    parked = {n: [event_to_dict(e) for e in await store.parked(n)] for n in numbers}
    detail = {
        "timeline": timeline,
        "events": [event_to_dict(e) for e in events],
        "duplicates": duplicates,
        "parked": {n: scans for n, scans in parked.items() if scans},
    }
    return json(for_roles(detail, who.roles))  # viewers: no personal data (api.personal)


async def search(request: web.Request) -> web.Response:
    who = agent(request)
    known_parameters(request, SEARCH_PARAMETERS)
    query = request.query
    store, index = request.app[STORE], request.app[AGENT_INDEX]
    found: dict[str, str] = {}
    text = (query.get("q") or "").strip()
    order_number = query.get("order_number") or text
    tracking_number = query.get("tracking_number") or text
    email = query.get("email") or (text if "@" in text else "")
    if email and not sees_personal_data(who.roles):
        # an e-mail address is personal data: a viewer would learn whose orders these are
        raise Forbidden("searching by e-mail needs the agent or supervisor role")
    if text and await store.timeline(text) is not None:
        found[text] = "order_id"
    if tracking_number and (order_id := await store.order_for_tracking(tracking_number)):
        found.setdefault(order_id, "tracking_number")
    if order_number:
        for order_id in await index.orders_by_number(order_number):
            found.setdefault(order_id, "order_number")
    if email:
        for order_id in await index.orders_by_email(email):
            found.setdefault(order_id, "email")
    results = []
    for order_id, matched_by in list(found.items())[:50]:
        raw = await store.timeline(order_id)
        if raw is None:
            continue
        timeline = orjson.loads(raw)
        if not who.sees(timeline.get("brand")):
            continue  # another brand's order: absent, as if never found
        results.append(
            {
                "order_id": order_id,
                "order_number": timeline.get("order_number"),
                "status": timeline.get("status"),
                "version": timeline.get("version"),
                "last_event_at": timeline.get("last_event_at"),
                "brand": timeline.get("brand"),
                "matched_by": matched_by,
            }
        )
    return json({"results": results})


def _values(request: web.Request, name: str) -> frozenset[str]:
    """A filter given as repeated parameters, comma-separated, or both."""
    return frozenset(v for raw in request.query.getall(name, []) for v in raw.split(",") if v)


def _choices(request: web.Request, name: str, allowed: frozenset[str]) -> frozenset[str]:
    values = _values(request, name)
    unknown = sorted(values - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise BadRequest(f"unknown {name} {', '.join(unknown)}; known: {known}")
    return values


#: JSON number syntax, which the OpenAPI document promises (Python's float() also takes
#: " 5", "5_0", "nan" and "inf"); whole numbers for integer parameters
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _number(request: web.Request, name: str, *, integer: bool = False) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not (_INTEGER if integer else _NUMBER).fullmatch(raw):
        raise BadRequest(f"{name} must be a {'whole number' if integer else 'number'}")
    value = float(raw)
    if not 0 <= value < 1e7:
        raise BadRequest(f"{name} must be between 0 and 10,000,000")
    return value


def _assignee(request: web.Request, agent_id: str) -> str | None:
    """``me``, ``none`` (the unassigned queue) or an agent id."""
    raw = request.query.get("assignee")
    if raw is None:
        return None
    if not raw or len(raw) > 128:
        raise BadRequest("assignee must be me, none or an agent id (up to 128 characters)")
    return {"me": agent_id, "none": UNASSIGNED}.get(raw, raw)


def _flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return raw == "true"


def exception_query(request: web.Request, agent_id: str = "") -> ExceptionQuery:
    states = _choices(request, "status", frozenset(ExceptionState))
    min_age, max_age = _number(request, "min_age_hours"), _number(request, "max_age_hours")
    limit = _number(request, "limit", integer=True)
    if limit is not None and (limit != int(limit) or limit > _MAX_LIMIT):
        raise BadRequest(f"limit must be a whole number up to {_MAX_LIMIT}")
    return ExceptionQuery(
        states=states or ExceptionQuery().states,
        types=_choices(request, "type", frozenset(ExceptionType)),
        severities=_choices(request, "severity", frozenset(Severity)),
        carriers=_values(request, "carrier"),
        min_age_s=None if min_age is None else min_age * 3600,
        max_age_s=None if max_age is None else max_age * 3600,
        limit=int(limit) if limit is not None else 100,
        assignee=_assignee(request, agent_id),
        escalated=_flag(request, "escalated"),
    )


def queue_brands(request: web.Request, who: Agent) -> frozenset[str] | None:
    """The brands a listing shows: the ``brand`` filters asked for, within the agent's brands
    (None: every brand and unbranded orders, for an unrestricted agent asking for none)."""
    asked = _values(request, "brand")
    if not asked:
        return who.brands
    return asked if who.brands is None else asked & who.brands


async def brands(request: web.Request) -> web.Response:
    """The configured brands this agent may see (the console's brand filter)."""
    who = agent(request)
    configured = request.app[SETTINGS].brands
    seen = [{"id": b, "name": c.name} for b, c in sorted(configured.items()) if who.sees(b)]
    return json({"brands": seen, "restricted": who.brands is not None})


async def list_exceptions(request: web.Request) -> web.Response:
    who = agent(request)
    known_parameters(request, QUEUE_PARAMETERS)
    query = replace(exception_query(request, who.agent_id), brands=queue_brands(request, who))
    rows = await request.app[AGENT_INDEX].exceptions()
    now = request.app[CLOCK]()
    selected = with_age(select_exceptions(rows, query, now), now)
    return json({"exceptions": for_roles(selected, who.roles)})  # viewers: no personal data


async def _action_body(request: web.Request) -> dict[str, Any]:
    raw = await raw_body(request, request.app[SETTINGS].api.max_body_bytes)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    # a field given is text (null is not "left out": the document says string)
    if "note" in body and (not isinstance(body["note"], str) or len(body["note"]) > _MAX_NOTE):
        raise BadRequest(f"note must be text of at most {_MAX_NOTE} characters")
    if "note" in body and not body["note"].strip():
        del body["note"]  # a blank note is no note (the event's text is never blank)
    if "order_id" in body and (not isinstance(body["order_id"], str) or not body["order_id"]):
        raise BadRequest("order_id must be non-empty text")
    return body


async def _act(request: web.Request, action: AgentAction) -> web.Response:
    who = agent(request, ACT_ROLES)
    app = request.app
    exception_id = request.match_info["exception_id"]
    body = await _action_body(request)
    await action_allowed(request, who)
    row = await app[AGENT_INDEX].exception(exception_id)
    order_id = body.get("order_id") or (row or {}).get("order_id")
    if not order_id:
        raise NotFound(f"exception {exception_id} is not known; give its order_id")
    raw = await app[STORE].timeline(order_id)
    if raw is None or not who.sees(orjson.loads(raw).get("brand")):
        raise NotFound(f"order {order_id} is not known")
    now = app[CLOCK]()
    outcome = agent_action(
        timeline_from_json(raw),
        exception_id,
        action,
        by=who.agent_id,
        note=body.get("note"),
        now=now,
    )
    if isinstance(outcome, Refusal):
        raise _REFUSALS.get(outcome.status, BadRequest)(outcome.reason)
    settings = app[SETTINGS]
    await write(
        app[PRODUCER],
        [(settings.topic(out.topic), out.key.encode(), out.value, None) for out in route(outcome)],
    )
    return json(
        {
            "status": "accepted",
            "event_id": outcome.event_id,
            "exception_id": exception_id,
            "order_id": order_id,
            "action": action,
            "by": who.agent_id,
            "at": now.isoformat(),
        },
        status=202,
    )


async def acknowledge(request: web.Request) -> web.Response:
    return await _act(request, "acknowledge")


async def resolve(request: web.Request) -> web.Response:
    return await _act(request, "resolve")


async def dead_letters(request: web.Request) -> web.Response:
    """Dead letters that mention the order or one of its tracking numbers (reads the topic)."""
    from wismo.deadletter import read_records

    who = agent(request, SEES_PERSONAL_DATA)  # raw payloads: not for viewers (api.personal)
    order_id = request.match_info["order_id"]
    timeline = await visible_timeline(request, who, order_id)
    needles = {order_id.encode()}
    needles |= {
        s["tracking_number"].encode() for s in timeline["shipments"] if s.get("tracking_number")
    }
    records = await read_records(request.app[SETTINGS], timeout_s=5.0)
    mentioned = [r for r in records if any(n in r.raw for n in needles)]
    return json({"dead_letters": [orjson.loads(r.to_json()) for r in mentioned]})
