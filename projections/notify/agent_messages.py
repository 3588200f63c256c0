"""Messages an agent sends the customer from the console (``customer.messaged``). Pure.

The agent picks one of :data:`AGENT_TEMPLATES` (the console offers and checks these names) and
may add their own words (``text``); the fold keeps each message in ``Timeline.messages``. The
``notify`` role plans every message it has not handled yet (:func:`pending`, planned by
:func:`projections.notify.plan.plan_order`) to the order's customer contacts:

* **exactly once per (message, channel, recipient)**: the idempotency key is
  ``order|agent:<message id>|channel|recipient``, and ``agent:<message id>`` goes into the
  order's state map once planned;
* **opt-out respected**: an opted-out recipient gets a suppressed record (``opted_out``), like a
  journey message; with no contact at all, nothing is sent;
* **when**: an e-mail goes at once — the agent chose to write now, often answering the
  customer's own report; an SMS waits for the end of quiet hours, since it buzzes a phone. Never
  suppressed as stale nor overtaken by the journey: nobody asked for it to be dropped;
* a template name outside :data:`AGENT_TEMPLATES` (a message sent through another client) is
  suppressed with reason ``unknown_template`` rather than failing at render time.

Rendered from ``<template>.subject.txt``, ``.txt``, ``.html`` and ``.sms.txt`` in the notify
templates directory, overridable from ``notify.templates_dir`` like every other message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.customer_order import status_text
from projections.notify.model import Message, NotifyChannel
from projections.timeline_model import CustomerMessageView, Timeline
from wismo.i18n import N_
from wismo.vocab import ProblemType

#: the state-map key prefix of a planned agent message (``agent:<message id>``)
HANDLED_PREFIX = "agent:"
UNKNOWN_TEMPLATE = "unknown_template"


@dataclass(frozen=True, slots=True)
class AgentTemplate:
    """A message an agent can send: ``label`` is what the console shows; ``needs_text``: the
    message means nothing without the agent's own words."""

    name: str
    label: str
    needs_text: bool = False


#: template name → template: the messages agents can send (names checked by the console)
AGENT_TEMPLATES: dict[str, AgentTemplate] = {
    t.name: t
    for t in (
        AgentTemplate("agent_update", "An update on the order (with your words)"),
        AgentTemplate("agent_need_info", "We need more information (say what)", needs_text=True),
        AgentTemplate("agent_apology", "Sorry for the trouble (with your words)"),
    )
}

#: how a message speaks of the customer's reported problem ("we are sorry that …"); English
#: msgids of the ``messages`` catalog, translated when rendered
PROBLEM_WORDING = {
    ProblemType.NOT_RECEIVED: N_("your parcel was marked delivered but did not reach you"),
    ProblemType.DAMAGED: N_("your order arrived damaged"),
    ProblemType.WRONG_ITEM: N_("you received the wrong item"),
    ProblemType.MISSING_ITEMS: N_("items were missing from your order"),
}


def handled_key(message_id: str) -> str:
    return HANDLED_PREFIX + message_id


def is_agent_entry(name: str) -> bool:
    """Whether a state-map entry is an agent message's (a customer message, like the journey)."""
    return name.startswith(HANDLED_PREFIX)


def _context(timeline: Timeline, sent: CustomerMessageView) -> dict[str, Any]:
    exception = next((e for e in timeline.exceptions if e.exception_id == sent.exception_id), None)
    problem = exception.problem if exception is not None else None
    return {
        "order_id": timeline.order_id,
        "order_number": timeline.order_number,
        "milestone": sent.template,
        "status_text": status_text(timeline),
        "parcels": len(timeline.shipments),
        "message_id": sent.message_id,
        "text": sent.text,
        "exception_id": sent.exception_id,
        "problem": problem.value if problem is not None else None,
        "problem_text": PROBLEM_WORDING.get(problem) if problem is not None else None,
    }


def pending(timeline: Timeline, handled: Mapping[str, str]) -> list[CustomerMessageView]:
    """The order's agent messages not planned yet."""
    return [m for m in timeline.messages if handled_key(m.message_id) not in handled]


def agent_message(
    timeline: Timeline,
    sent: CustomerMessageView,
    recipient: tuple[NotifyChannel, str],
    due_at: datetime,
    extra: Mapping[str, Any],
) -> Message:
    """One agent message to one recipient; ``extra``: the recipient's zone and locale and the
    order's brand."""
    channel, address = recipient
    return Message(
        key=f"{timeline.order_id}|{handled_key(sent.message_id)}|{channel.value}|{address}",
        order_id=timeline.order_id,
        channel=channel,
        recipient=address,
        kind=sent.template,
        subject=sent.message_id,
        payload=_context(timeline, sent) | dict(extra),
        triggered_at=sent.at,
        due_at=due_at,
        version=timeline.version,
    )
