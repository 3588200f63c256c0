"""Agents working an exception to the end, as canonical events (or why not). Pure.

Each function takes the order's timeline and what the agent asked for, and answers one of:

* an :data:`~wismo.events.Event` to publish (``exception.assigned``, ``exception.escalated``,
  ``note.added``, ``customer.messaged``) — the audit record of the action: ``by`` and
  ``occurred_at`` say who and when;
* a :class:`~projections.exception_flow.Refusal` with its HTTP status: 404 the exception is not
  the order's (or there is no such message template), 409 it is resolved (or escalated
  already), 403 the actor may not do this, 422 the request cannot become a valid event;
* :class:`Unchanged` — what was asked is already so (a repeated take or escalation): nothing to
  write, so a double click that arrives after the first click was folded is still one event.

Who may assign: any agent may take an unassigned exception or give back their own; only a
supervisor assigns to someone else, takes one assigned to someone else, or gives it back for them.

Ids are deterministic (``docs/contracts.md``): the event id hashes the kind, the order, the
target, the actor and either the client's ``Idempotency-Key`` or the request's content plus the
state it acts on (so taking an exception, giving it back and taking it again are three events).
A note's ``note_id`` (``n_``) and a message's ``message_id`` (``m_``) hash the same inputs.
Bulk acknowledge/resolve runs :func:`projections.exception_flow.agent_action` per exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from projections.exception_flow import AGENT_SOURCE, AgentAction, Refusal, agent_action
from projections.notify.agent_messages import AGENT_TEMPLATES, AgentTemplate
from projections.timeline_model import ExceptionView, Timeline
from wismo.errors import describe_validation_error
from wismo.events import Event, EventKind, event_from_dict
from wismo.ids import digest
from wismo.vocab import ExceptionState

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the agent's id, and whether they hold the supervisor role."""

    agent_id: str
    supervisor: bool = False


@dataclass(frozen=True, slots=True)
class Unchanged:
    """What was asked is already in effect; ``reason`` says how."""

    reason: str


Outcome = Event | Refusal | Unchanged


def exception_of(timeline: Timeline, exc_id: str) -> ExceptionView | Refusal:
    view = next((v for v in timeline.exceptions if v.exception_id == exc_id), None)
    if view is None:
        return Refusal(404, f"order {timeline.order_id} has no exception {exc_id}")
    return view


def _open(timeline: Timeline, exc_id: str) -> ExceptionView | Refusal:
    view = exception_of(timeline, exc_id)
    if isinstance(view, ExceptionView) and view.state is ExceptionState.RESOLVED:
        return Refusal(409, f"exception {exc_id} is already resolved")
    return view


def _key(
    kind: EventKind, order_id: str, target: str, actor: Actor, key: str | None
) -> tuple[Any, ...]:
    return (kind.value, order_id, target, actor.agent_id, "key" if key else "content", key)


def _event(
    kind: EventKind,
    order_id: str,
    natural_key: tuple[Any, ...],
    payload: dict[str, Any],
    *,
    now: datetime,
    after: Iterable[datetime | None] = (),
) -> Event | Refusal:
    """The event, at the server clock but never before what it acts on (``after``)."""
    at = max([now, *(moment for moment in after if moment is not None)])
    try:
        return event_from_dict(
            {
                "event_id": f"{AGENT_SOURCE}:{digest(AGENT_SOURCE, *natural_key)}",
                "source": AGENT_SOURCE,
                "kind": kind.value,
                "order_id": order_id,
                "occurred_at": at.isoformat(),
                "received_at": now.isoformat(),
                "payload": payload,
            }
        )
    except ValidationError as error:
        return Refusal(422, describe_validation_error(error))


def short_id(prefix: str, natural_key: tuple[Any, ...]) -> str:
    """A note's or message's id: ``prefix`` and 16 hex of the event id's hash inputs."""
    return f"{prefix}_{digest(AGENT_SOURCE, *natural_key, length=16)}"


def may_assign(actor: Actor, current: str | None, assignee: str | None) -> bool:
    """A plain agent touches only what is unassigned or theirs, and only for themselves."""
    if actor.supervisor:
        return True
    mine = (None, actor.agent_id)
    return current in mine and assignee in mine


def assign(
    timeline: Timeline,
    exc_id: str,
    assignee: str | None,
    *,
    actor: Actor,
    now: datetime,
    key: str | None = None,
) -> Outcome:
    """Give the exception to ``assignee`` (None: back to the unassigned queue)."""
    view = _open(timeline, exc_id)
    if isinstance(view, Refusal):
        return view
    current = view.assignee
    if not may_assign(actor, current, assignee):
        held = f"assigned to {current}" if current else "unassigned"
        to = assignee or "no one"
        return Refusal(403, f"exception {exc_id} is {held}: only a supervisor may give it to {to}")
    if assignee == current:
        return Unchanged(f"already assigned to {current}" if current else "already unassigned")
    kind = EventKind.EXCEPTION_ASSIGNED
    content = (assignee, current, view.assigned_at)
    natural = (*_key(kind, timeline.order_id, exc_id, actor, key), *(() if key else content))
    payload = {"exception_id": exc_id, "assignee": assignee, "by": actor.agent_id}
    # strictly after the assignment it replaces, so the fold's "latest wins" sees it so
    replaced = view.assigned_at + _TICK if view.assigned_at is not None else None
    return _event(
        kind, timeline.order_id, natural, payload, now=now, after=(view.opened_at, replaced)
    )


def escalation_stands(view: ExceptionView) -> bool:
    """Escalated, and neither resolved nor re-opened since (the fold keeps that escalation)."""
    at = view.escalated_at
    if at is None:
        return False
    return not any(m is not None and m > at for m in (view.resolved_at, view.opened_at))


def escalate(
    timeline: Timeline,
    exc_id: str,
    reason: str,
    to: str | None,
    *,
    actor: Actor,
    now: datetime,
    key: str | None = None,
) -> Outcome:
    """Escalate to the supervisors (or to one named) with a reason."""
    view = _open(timeline, exc_id)
    if isinstance(view, Refusal):
        return view
    if escalation_stands(view):
        if (view.escalated_by, view.escalation_reason, view.escalated_to) == (
            actor.agent_id,
            reason.strip(),
            to.strip() if to else None,
        ):
            return Unchanged(f"already escalated by {actor.agent_id}")
        return Refusal(409, f"exception {exc_id} is already escalated by {view.escalated_by}")
    kind = EventKind.EXCEPTION_ESCALATED
    content = (reason, to, view.opened_at)
    natural = (*_key(kind, timeline.order_id, exc_id, actor, key), *(() if key else content))
    payload = {"exception_id": exc_id, "reason": reason, "by": actor.agent_id, "to": to}
    return _event(kind, timeline.order_id, natural, payload, now=now, after=(view.opened_at,))


def _target(timeline: Timeline, exc_id: str | None) -> ExceptionView | Refusal | None:
    return None if exc_id is None else exception_of(timeline, exc_id)


def add_note(
    timeline: Timeline,
    text: str,
    *,
    exception_id: str | None,
    actor: Actor,
    now: datetime,
    key: str | None = None,
) -> Event | Refusal:
    """An append-only note on the order, or on one of its exceptions (resolved ones too)."""
    view = _target(timeline, exception_id)
    if isinstance(view, Refusal):
        return view
    kind = EventKind.NOTE_ADDED
    target = exception_id or ""
    natural = (*_key(kind, timeline.order_id, target, actor, key), *(() if key else (text,)))
    payload = {
        "note_id": short_id("n", natural),
        "text": text,
        "by": actor.agent_id,
        "exception_id": exception_id,
    }
    opened = view.opened_at if view is not None else None
    return _event(kind, timeline.order_id, natural, payload, now=now, after=(opened,))


def message_customer(
    timeline: Timeline,
    template: str,
    text: str | None,
    *,
    exception_id: str | None,
    actor: Actor,
    now: datetime,
    templates: Mapping[str, AgentTemplate] = AGENT_TEMPLATES,
    key: str | None = None,
) -> Event | Refusal:
    """A message to the customer from one of ``templates``; the notify role delivers it."""
    chosen = templates.get(template)
    if chosen is None:
        known = ", ".join(sorted(templates)) or "none"
        return Refusal(404, f"there is no message template {template}; known: {known}")
    if chosen.needs_text and not text:
        return Refusal(422, f"the template {template} needs your words (text)")
    view = _target(timeline, exception_id)
    if isinstance(view, Refusal):
        return view
    kind = EventKind.CUSTOMER_MESSAGED
    content = (template, text)
    natural = (
        *_key(kind, timeline.order_id, exception_id or "", actor, key),
        *(() if key else content),
    )
    payload = {
        "message_id": short_id("m", natural),
        "template": template,
        "by": actor.agent_id,
        "text": text,
        "exception_id": exception_id,
    }
    opened = view.opened_at if view is not None else None
    return _event(kind, timeline.order_id, natural, payload, now=now, after=(opened,))


def bulk_action(
    timelines: Mapping[str, Timeline | None],
    action: AgentAction,
    *,
    by: str,
    note: str | None,
    now: datetime,
) -> list[tuple[str, Event | Refusal]]:
    """``action`` on every exception of ``timelines`` (exception id → its order's timeline, None
    when not known), each as :func:`agent_action` decides, in the order given."""
    outcomes: list[tuple[str, Event | Refusal]] = []
    for exc_id, timeline in timelines.items():
        if timeline is None:
            outcomes.append((exc_id, Refusal(404, f"exception {exc_id} is not known")))
        else:
            outcomes.append(
                (exc_id, agent_action(timeline, exc_id, action, by=by, note=note, now=now))
            )
    return outcomes
