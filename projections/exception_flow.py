"""The exception lifecycle as events: open → acknowledged → resolved, and re-opened. Pure.

:func:`reconcile` compares what the rules detect (:func:`projections.exceptions.detect`) with
the exceptions a timeline already holds and returns the canonical events that close the gap:

* a detected exception the timeline does not hold → ``exception.opened``, at its ``due_at``;
* a detector-made exception that is no longer detected → ``exception.resolved`` with
  ``automatic=True``, at ``now``;
* a resolved exception detected again → ``exception.opened`` for the **same id**, but only when
  the condition (re)started *after* the resolution (``due_at > resolved_at``). A resolution, by
  an agent or automatic, covers everything known up to it: an agent who resolves a stalled
  parcel is not overruled by the next sweep; a fresh stall after a new scan re-opens it.

One id per (order, subject, type) (:func:`wismo.ids.exception_id`) keeps the agent console's
history of an exception in one place and makes "at most one open per subject and type" hold by
construction; each occurrence is told apart by its ``opened_at``. Event ids are hashes of the
exception id, the transition and the occurrence (the previous ``resolved_at`` for an opening, the
``opened_at`` for a resolution), so reconciling the same timeline twice, in two sweepers, or in
the sweeper and the event path at once, yields the same ids and the fold keeps one copy.

:func:`agent_action` turns an agent's acknowledge/resolve into its event (or a refusal), and
:func:`exceptions_for_timeline` is what the sweeper runs for one stored timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from projections.exceptions import (
    DetectedException,
    detect,
    next_check_at,
    overdue_clock_keys,
)
from projections.timeline_model import ExceptionView, Timeline
from wismo.errors import describe_validation_error
from wismo.events import Event, EventKind, event_from_dict
from wismo.ids import exception_id, natural_event_id
from wismo.settings import PredictSettings, ThresholdSettings
from wismo.vocab import ExceptionState, ExceptionType

DETECTOR_SOURCE = "wismo"
AGENT_SOURCE = "agent"
_MESSAGE_CHARS = 2000

AgentAction = Literal["acknowledge", "resolve"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an agent's action was not turned into an event (``status`` is the HTTP status)."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one timeline needs: lifecycle events to publish and when to look at it again."""

    order_id: str
    events: list[Event]
    next_check_at: datetime | None


def id_of(order_id: str, detected: DetectedException) -> str:
    return exception_id(order_id, detected.type.value, detected.subject)


def reconcile(
    timeline: Timeline, detected: Iterable[DetectedException], now: datetime
) -> list[Event]:
    """The lifecycle events that make ``timeline``'s exceptions match ``detected`` at ``now``."""
    order_id = timeline.order_id
    held = {view.exception_id: view for view in timeline.exceptions}
    wanted: set[str] = set()
    events: list[Event] = []
    for found in detected:
        exc_id = id_of(order_id, found)
        wanted.add(exc_id)
        view = held.get(exc_id)
        if view is None:
            events.append(_opened(order_id, exc_id, found, now, after=None))
        elif (
            view.state is ExceptionState.RESOLVED
            and view.resolved_at is not None
            and found.due_at > view.resolved_at
        ):
            events.append(_opened(order_id, exc_id, found, now, after=view.resolved_at))
    for view in timeline.exceptions:
        if (
            view.state is not ExceptionState.RESOLVED
            and view.exception_id not in wanted
            and _detector_made(order_id, view)
        ):
            events.append(_auto_resolved(order_id, view, now))
    return events


def _detector_made(order_id: str, view: ExceptionView) -> bool:
    """Exceptions opened by hand (any other id) and customers' reports are left to the agents."""
    if view.type in (None, ExceptionType.CUSTOMER_REPORTED) or view.reported_by_customer:
        return False
    return view.exception_id == exception_id(order_id, view.type.value, view.subject)


def _opened(
    order_id: str,
    exc_id: str,
    found: DetectedException,
    now: datetime,
    *,
    after: datetime | None,
) -> Event:
    occurrence = "first" if after is None else f"after:{after.isoformat()}"
    kind = EventKind.EXCEPTION_OPENED.value
    payload: dict[str, Any] = {
        "exception_id": exc_id,
        "type": found.type.value,
        "severity": found.severity.value,
        "owner": found.owner.value,
        "subject": found.subject,
        "message": found.message[:_MESSAGE_CHARS],
    }
    if found.reason is not None:
        payload["reason"] = found.reason.value
    return event_from_dict(
        {
            "event_id": natural_event_id(DETECTOR_SOURCE, kind, exc_id, occurrence),
            "source": DETECTOR_SOURCE,
            "kind": kind,
            "order_id": order_id,
            # the occurrence began at due_at; a re-opening sorts after the resolution it follows
            "occurred_at": found.due_at.isoformat(),
            "received_at": now.isoformat(),
            "payload": payload,
        }
    )


def _auto_resolved(order_id: str, view: ExceptionView, now: datetime) -> Event:
    kind = EventKind.EXCEPTION_RESOLVED.value
    opened = view.opened_at
    at = max(now, opened) if opened is not None else now
    return event_from_dict(
        {
            "event_id": natural_event_id(
                DETECTOR_SOURCE, kind, view.exception_id, opened, "automatic"
            ),
            "source": DETECTOR_SOURCE,
            "kind": kind,
            "order_id": order_id,
            "occurred_at": at.isoformat(),
            "received_at": now.isoformat(),
            "payload": {
                "exception_id": view.exception_id,
                "automatic": True,
                "note": "the condition cleared",
            },
        }
    )


def agent_action(
    timeline: Timeline,
    exc_id: str,
    action: AgentAction,
    *,
    by: str,
    note: str | None,
    now: datetime,
) -> Event | Refusal:
    """An agent acknowledging or resolving an exception, as its event (or why not).

    The same action by the same agent with the same note on the same occurrence always gets
    the same event id, so a double click or a retried request is folded once.
    """
    view = next((v for v in timeline.exceptions if v.exception_id == exc_id), None)
    if view is None:
        return Refusal(404, f"order {timeline.order_id} has no exception {exc_id}")
    if view.state is ExceptionState.RESOLVED:
        return Refusal(409, f"exception {exc_id} is already resolved")
    kind = (
        EventKind.EXCEPTION_ACKNOWLEDGED
        if action == "acknowledge"
        else EventKind.EXCEPTION_RESOLVED
    ).value
    opened = view.opened_at
    at = max(now, opened) if opened is not None else now
    payload: dict[str, Any] = {"exception_id": exc_id, "by": by}
    if note:
        payload["note"] = note
    try:
        return event_from_dict(
            {
                "event_id": natural_event_id(AGENT_SOURCE, kind, exc_id, opened, by, note),
                "source": AGENT_SOURCE,
                "kind": kind,
                "order_id": timeline.order_id,
                "occurred_at": at.isoformat(),
                "received_at": now.isoformat(),
                "payload": payload,
            }
        )
    except ValidationError as error:
        return Refusal(422, describe_validation_error(error))


# the event-driven path ---------------------------------------------------------------------

_TIMELINE = TypeAdapter(Timeline)


def timeline_from_json(document: bytes) -> Timeline:
    """The timeline :func:`projections.serialize.timeline_to_json` encoded (equal to it)."""
    return _TIMELINE.validate_json(document)


def exceptions_for_timeline(
    timeline: Timeline,
    now: datetime,
    thresholds: ThresholdSettings,
    *,
    settle_s: float = 0.0,
    predict: PredictSettings | None = None,
) -> Outcome:
    """Detect, reconcile and reschedule one timeline.

    With ``settle_s``, a clock rule that is past its deadline but not open yet is not opened
    now: the order is checked again ``settle_s`` later. Events of one order travel separate
    paths (a replayed history's scans land just after their shipment), so a rule fired by a
    timeline that is still filling in would open and resolve an exception that never was.
    """
    detected = detect(timeline, now, thresholds, predict)
    deferred = False
    if settle_s > 0:
        unsettled = overdue_clock_keys(timeline, now, thresholds) - _open_keys(timeline)
        deferred = any(d.key in unsettled for d in detected)
        detected = [d for d in detected if d.key not in unsettled]
    events = reconcile(timeline, detected, now)
    check = next_check_at(timeline, now, thresholds)
    if deferred:
        settled = now + timedelta(seconds=settle_s)
        check = settled if check is None else min(check, settled)
    return Outcome(timeline.order_id, events, check)


def _open_keys(timeline: Timeline) -> set[tuple[str, ExceptionType]]:
    return {
        (view.subject, view.type)
        for view in timeline.exceptions
        if view.state is not ExceptionState.RESOLVED and view.subject and view.type
    }
