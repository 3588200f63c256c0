"""How agents work exceptions to the end: assignment, notes, escalation, bulk actions, a
message to the customer, and the supervisors' queue. Every action becomes a canonical event.

The events are the audit record (:mod:`projections.agent_work` builds them, with deterministic
ids: an ``Idempotency-Key`` header, or the same request twice, gives one event). Every action
needs the ``agent`` or ``supervisor`` role and takes a token from the actor's bucket of
``settings.selfservice.agent_actions_per_minute`` (shared by every API process; a bulk action
takes one per exception). Answers: 202 with the event's id once it is on the broker, or 200
``unchanged`` when what was asked is already so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.auth import ACT_ROLES, Agent
from api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
)
from api.kafka import write
from api.keys import AGENT_INDEX, CLOCK, PRODUCER, SETTINGS, STORE
from api.views.agent import (
    NOT_BLANK,
    action_allowed,
    agent,
    idempotency_key,
    known_parameters,
    take_action,
)
from api.views.body import json_object
from api.views.respond import json
from projections.agent_index import team_queue, visible
from projections.agent_work import (
    Actor,
    Unchanged,
    add_note,
    assign,
    bulk_action,
    escalate,
    message_customer,
)
from projections.exception_flow import AgentAction, Refusal, timeline_from_json
from projections.notify.agent_messages import AGENT_TEMPLATES
from projections.timeline_model import Timeline
from wismo.events import Event
from wismo.topics import route

SUPERVISOR_ROLES = frozenset({"supervisor"})
_REFUSALS: dict[int, type[ApiError]] = {
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}
_TEXT_CHARS = 2000
_ID_CHARS = 128
_TEMPLATE_CHARS = 64
_BULK_ACTIONS: frozenset[AgentAction] = frozenset({"acknowledge", "resolve"})


# ---- reading requests -----------------------------------------------------------------------


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    """A field that, when given, is text of 1..``limit`` characters with something not blank."""
    return _required(body, name, limit) if name in body else None


def _required(body: dict[str, Any], name: str, limit: int) -> str:
    if name not in body:
        raise BadRequest(f"{name} is required")
    value = body[name]
    if not isinstance(value, str) or len(value) > limit or not NOT_BLANK.search(value):
        raise BadRequest(f"{name} must be text of at most {limit} characters, not blank")
    return value.strip()


async def _body(request: web.Request, known: frozenset[str]) -> dict[str, Any]:
    body = await json_object(request, request.app[SETTINGS].api.max_body_bytes)
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return body


# ---- who, how often -------------------------------------------------------------------------


def _actor(request: web.Request) -> tuple[Agent, Actor]:
    who = agent(request, ACT_ROLES)
    return who, Actor(who.agent_id, bool(who.roles & SUPERVISOR_ROLES))


# ---- the order acted on ---------------------------------------------------------------------


async def _timeline(request: web.Request, who: Agent, order_id: str) -> Timeline:
    """The order acted on; another brand's order is as unknown as a missing one (404)."""
    raw = await request.app[STORE].timeline(order_id)
    timeline = None if raw is None else timeline_from_json(raw)
    if timeline is None or not who.sees(timeline.brand):
        raise NotFound(f"order {order_id} is not known")
    return timeline


async def _order_of(request: web.Request, exception_id: str, given: str | None) -> str:
    if given:
        return given
    row = await request.app[AGENT_INDEX].exception(exception_id)
    if row is None or not row.get("order_id"):
        raise NotFound(f"exception {exception_id} is not known; give its order_id")
    return str(row["order_id"])


def _order_id(body: dict[str, Any]) -> str | None:
    value = body.get("order_id")
    if "order_id" in body and (not isinstance(value, str) or not value):
        raise BadRequest("order_id must be non-empty text")
    return value


async def _publish(request: web.Request, event: Event) -> None:
    settings = request.app[SETTINGS]
    await write(
        request.app[PRODUCER],
        [(settings.topic(out.topic), out.key.encode(), out.value, None) for out in route(event)],
    )


async def _answer(
    request: web.Request,
    outcome: Event | Refusal | Unchanged,
    action: str,
    **extra: Any,
) -> web.Response:
    now = request.app[CLOCK]()
    if isinstance(outcome, Refusal):
        raise _REFUSALS.get(outcome.status, BadRequest)(outcome.reason)
    if isinstance(outcome, Unchanged):
        answer = {"status": "unchanged", "action": action, "reason": outcome.reason, **extra}
        return json({**answer, "at": now.isoformat()})
    await _publish(request, outcome)
    payload = outcome.payload.model_dump(mode="json", exclude_none=True)
    answer = {"status": "accepted", "action": action, "event_id": outcome.event_id, **extra}
    answer |= {name: payload[name] for name in ("note_id", "message_id") if name in payload}
    return json({**answer, "at": now.isoformat()}, status=202)


# ---- the routes -----------------------------------------------------------------------------


async def assign_exception(request: web.Request) -> web.Response:
    who, actor = _actor(request)
    exception_id = request.match_info["exception_id"]
    body = await _body(request, frozenset({"assignee", "order_id"}))
    key = idempotency_key(request)
    if "assignee" not in body:
        raise BadRequest("assignee is required: an agent id, me, or null")
    assignee = None if body["assignee"] is None else _text(body, "assignee", _ID_CHARS)
    if assignee == "me":
        assignee = who.agent_id
    order_id = await _order_of(request, exception_id, _order_id(body))
    await action_allowed(request, who)
    outcome = assign(
        await _timeline(request, who, order_id),
        exception_id,
        assignee,
        actor=actor,
        now=request.app[CLOCK](),
        key=key,
    )
    return await _answer(
        request,
        outcome,
        "assign",
        order_id=order_id,
        exception_id=exception_id,
        by=who.agent_id,
        assignee=assignee,
    )


async def escalate_exception(request: web.Request) -> web.Response:
    who, actor = _actor(request)
    exception_id = request.match_info["exception_id"]
    body = await _body(request, frozenset({"reason", "to", "order_id"}))
    key = idempotency_key(request)
    reason = _required(body, "reason", _TEXT_CHARS)
    to = _text(body, "to", _ID_CHARS)
    order_id = await _order_of(request, exception_id, _order_id(body))
    await action_allowed(request, who)
    outcome = escalate(
        await _timeline(request, who, order_id),
        exception_id,
        reason,
        to,
        actor=actor,
        now=request.app[CLOCK](),
        key=key,
    )
    return await _answer(
        request, outcome, "escalate", order_id=order_id, exception_id=exception_id, by=who.agent_id
    )


async def add_order_note(request: web.Request) -> web.Response:
    who, actor = _actor(request)
    order_id = request.match_info["order_id"]
    body = await _body(request, frozenset({"text", "exception_id"}))
    key = idempotency_key(request)
    text = _required(body, "text", _TEXT_CHARS)
    exception_id = _text(body, "exception_id", _ID_CHARS)
    await action_allowed(request, who)
    outcome = add_note(
        await _timeline(request, who, order_id),
        text,
        exception_id=exception_id,
        actor=actor,
        now=request.app[CLOCK](),
        key=key,
    )
    return await _answer(
        request, outcome, "note", order_id=order_id, exception_id=exception_id, by=who.agent_id
    )


async def message_order_customer(request: web.Request) -> web.Response:
    who, actor = _actor(request)
    order_id = request.match_info["order_id"]
    body = await _body(request, frozenset({"template", "text", "exception_id"}))
    key = idempotency_key(request)
    template = body.get("template")
    if not isinstance(template, str) or not 1 <= len(template) <= _TEMPLATE_CHARS:
        raise BadRequest(f"template must name a message template (up to {_TEMPLATE_CHARS})")
    text = _text(body, "text", _TEXT_CHARS)
    exception_id = _text(body, "exception_id", _ID_CHARS)
    await action_allowed(request, who)
    outcome = message_customer(
        await _timeline(request, who, order_id),
        template,
        text,
        exception_id=exception_id,
        actor=actor,
        now=request.app[CLOCK](),
        key=key,
    )
    return await _answer(
        request, outcome, "message", order_id=order_id, exception_id=exception_id, by=who.agent_id
    )


def _bulk_request(body: dict[str, Any], most: int) -> tuple[AgentAction, list[str], str | None]:
    action: AgentAction = body.get("action")  # type: ignore[assignment]  # checked next
    if not isinstance(action, str) or action not in _BULK_ACTIONS:
        raise BadRequest("action must be acknowledge or resolve")
    ids = body.get("exception_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= most:
        raise BadRequest(f"exception_ids must list 1 to {most} exception ids")
    for value in ids:
        if not isinstance(value, str) or len(value) > _ID_CHARS or not NOT_BLANK.search(value):
            raise BadRequest(f"exception_ids must be text of at most {_ID_CHARS} characters")
    note = body.get("note")
    if "note" in body and (not isinstance(note, str) or len(note) > _TEXT_CHARS):
        raise BadRequest(f"note must be text of at most {_TEXT_CHARS} characters")
    return action, list(dict.fromkeys(ids)), note


async def bulk(request: web.Request) -> web.Response:
    """Acknowledge or resolve many exceptions: one result per exception, in the order given.
    The rate limit counts each; once it is reached the rest are refused with status 429."""
    who, _ = _actor(request)
    app = request.app
    body = await _body(request, frozenset({"action", "exception_ids", "note"}))
    action, ids, note = _bulk_request(body, app[SETTINGS].selfservice.bulk_max)
    timelines: dict[str, Timeline | None] = {}
    refused: dict[str, dict[str, Any]] = {}
    read: dict[str, Timeline | None] = {}
    wait = 0.0
    for exception_id in ids:
        wait = wait or await take_action(request, who)
        if wait:  # the bucket is empty: the rest wait too
            reason = f"too many actions by {who.agent_id}; retry in {wait:.0f} s"
            refused[exception_id] = _refused(exception_id, 429, reason)
            continue
        row = await app[AGENT_INDEX].exception(exception_id)
        order_id = (row or {}).get("order_id")
        if order_id and order_id not in read:
            raw = await app[STORE].timeline(order_id)
            seen = None if raw is None else timeline_from_json(raw)
            read[order_id] = seen if seen is not None and who.sees(seen.brand) else None
        timelines[exception_id] = read.get(order_id) if order_id else None
    now = app[CLOCK]()
    outcomes = dict(bulk_action(timelines, action, by=who.agent_id, note=note, now=now))
    results = []
    for exception_id in ids:
        outcome = outcomes.get(exception_id)
        if outcome is None:
            results.append(refused[exception_id])
        elif isinstance(outcome, Refusal):
            results.append(_refused(exception_id, outcome.status, outcome.reason))
        else:
            await _publish(request, outcome)
            results.append(
                {
                    "exception_id": exception_id,
                    "status": "accepted",
                    "event_id": outcome.event_id,
                    "order_id": outcome.order_id,
                }
            )
    accepted = sum(r["status"] == "accepted" for r in results)
    return json(
        {
            "action": action,
            "by": who.agent_id,
            "at": now.isoformat(),
            "accepted": accepted,
            "refused": len(results) - accepted,
            "results": results,
        }
    )


def _refused(exception_id: str, status: int, reason: str) -> dict[str, Any]:
    return {"exception_id": exception_id, "status": "refused", "code": status, "reason": reason}


async def read_team_queue(request: web.Request) -> web.Response:
    who = agent(request, SUPERVISOR_ROLES)
    known_parameters(request, frozenset({"sort"}))
    sort = request.query.get("sort", "age")
    if sort not in ("age", "assignee"):
        raise BadRequest("sort must be age or assignee")
    rows = visible(await request.app[AGENT_INDEX].exceptions(), who.brands)
    now = request.app[CLOCK]()
    return json(team_queue(rows, now, by_assignee=sort == "assignee"))


async def message_templates(request: web.Request) -> web.Response:
    """The templates an agent may send the customer (the console's picker)."""
    agent(request)
    templates = [
        {"name": t.name, "label": t.label, "needs_text": t.needs_text}
        for t in AGENT_TEMPLATES.values()
    ]
    return json({"templates": templates})


def add_agent_work_routes(app: web.Application) -> None:
    """The agent-work routes (``api/openapi.yaml`` describes each)."""
    app.router.add_post("/v1/agent/exceptions/bulk", bulk)
    app.router.add_post("/v1/agent/exceptions/{exception_id}/assign", assign_exception)
    app.router.add_post("/v1/agent/exceptions/{exception_id}/escalate", escalate_exception)
    app.router.add_post("/v1/agent/orders/{order_id}/notes", add_order_note)
    app.router.add_post("/v1/agent/orders/{order_id}/messages", message_order_customer)
    app.router.add_get("/v1/agent/team-queue", read_team_queue)
    app.router.add_get("/v1/agent/message-templates", message_templates)
