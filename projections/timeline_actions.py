"""What people's actions make of a timeline: customer reports, cancel requests, and the agents'
assignments, escalations, service-desk cases, notes and messages. Pure; part of the fold.

Every handler here sees the events in canonical order (:mod:`projections.ordering`) and touches
only exceptions, notes, messages and cancel requests: nothing the parcel router or the order
status reads, which is why the fold may continue with these kinds (``CONTINUED_KINDS``).
Histories (notes, messages) keep the first copy of an id, so a retried action is one entry.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.timeline_model import (
    CancelRequestView,
    CaseView,
    CustomerMessageView,
    ExceptionView,
    NoteAction,
    NoteView,
    Timeline,
)
from wismo.events import (
    CancelRequestEvent,
    CustomerMessagedEvent,
    EventKind,
    ExceptionAssignedEvent,
    ExceptionCaseOpenedEvent,
    ExceptionEscalatedEvent,
    ExceptionTransitionEvent,
    NoteAddedEvent,
    ProblemReportedEvent,
)
from wismo.vocab import (
    CANCEL_RANK,
    CancelStatus,
    ExceptionType,
    Owner,
    ProblemType,
    Severity,
)

ExceptionLookup = Callable[[str], ExceptionView]
"""The exception of an id, made (open, otherwise empty) when the timeline does not hold it."""

_TRANSITION_ACTION: dict[EventKind, NoteAction] = {
    EventKind.EXCEPTION_ACKNOWLEDGED: "acknowledge",
    EventKind.EXCEPTION_RESOLVED: "resolve",
}


def reported(view: ExceptionView, event: ProblemReportedEvent) -> None:
    """A customer's report: a ``customer_reported`` exception the detector never touches."""
    p = event.payload
    view.type, view.owner = ExceptionType.CUSTOMER_REPORTED, Owner.RETAILER
    view.severity = Severity.HIGH if p.problem is ProblemType.NOT_RECEIVED else Severity.MEDIUM
    view.problem, view.message = p.problem, p.text
    view.subject = p.subject or view.subject
    if p.attachment is not None:
        view.attachment = p.attachment.model_dump(mode="json")
    view.reported_lines.update({line.line_id: line.quantity for line in p.lines or ()})
    view.reported_by_customer = True
    view.opened_at = view.opened_at or event.occurred_at


def assigned(view: ExceptionView, event: ExceptionAssignedEvent) -> None:
    """The latest assignment wins; ``assignee`` None puts it back in the unassigned queue."""
    p = event.payload
    view.assignee, view.assigned_by, view.assigned_at = p.assignee, p.by, event.occurred_at


def escalated(view: ExceptionView, event: ExceptionEscalatedEvent) -> None:
    """The first escalation stands until the exception is resolved or re-opened after it."""
    p, at = event.payload, event.occurred_at
    previous = view.escalated_at
    if previous is not None and not any(
        moment is not None and moment > previous for moment in (view.resolved_at, view.opened_at)
    ):
        return
    view.escalated_at, view.escalated_by = at, p.by
    view.escalation_reason, view.escalated_to = p.reason, p.to


def case_opened(view: ExceptionView, event: ExceptionCaseOpenedEvent) -> None:
    """The newest case opened for the exception."""
    p = event.payload
    view.case = CaseView(p.system, p.case_id, p.case_number, p.url, event.occurred_at)


class ActionHistory:
    """The order's append-only histories: notes, customer messages and cancel requests."""

    __slots__ = ("_cancels", "_messages", "_notes", "timeline")

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._notes: set[str] = set()
        self._messages: set[str] = set()
        self._cancels: dict[str, CancelRequestView] = {}

    def note(self, event: NoteAddedEvent) -> None:
        p = event.payload
        self._append_note(
            NoteView(p.note_id, p.text, p.by, event.occurred_at, p.exception_id, "note")
        )

    def transition_note(self, event: ExceptionTransitionEvent) -> None:
        """An agent's note on acknowledging or resolving (the detector's are not notes)."""
        p = event.payload
        if p.note and not p.automatic:
            action = _TRANSITION_ACTION[event.kind]
            at = event.occurred_at
            self._append_note(NoteView(event.event_id, p.note, p.by, at, p.exception_id, action))

    def escalation_note(self, event: ExceptionEscalatedEvent) -> None:
        p = event.payload
        at = event.occurred_at
        self._append_note(NoteView(event.event_id, p.reason, p.by, at, p.exception_id, "escalate"))

    def _append_note(self, note: NoteView) -> None:
        if note.note_id not in self._notes:
            self._notes.add(note.note_id)
            self.timeline.notes.append(note)

    def message(self, event: CustomerMessagedEvent) -> None:
        p = event.payload
        if p.message_id in self._messages:
            return
        self._messages.add(p.message_id)
        self.timeline.messages.append(
            CustomerMessageView(
                p.message_id, p.template, p.by, event.occurred_at, p.text, p.exception_id
            )
        )

    def cancel(self, event: CancelRequestEvent) -> None:
        """A request moves from ``requested`` to the OMS's answer, never back. It cancels
        nothing itself: the OMS's ``order.cancelled`` / ``order.changed`` does."""
        p = event.payload
        status = CancelStatus(event.kind.value.split(".", 1)[1])
        view = self._cancels.get(p.request_id)
        if view is None:
            view = self._cancels[p.request_id] = CancelRequestView(p.request_id, status)
            self.timeline.cancel_requests.append(view)
        if CANCEL_RANK[status] >= CANCEL_RANK[view.status]:
            view.status = status
            if status is not CancelStatus.REQUESTED:
                view.decided_at = event.occurred_at
        if status is CancelStatus.REQUESTED:
            view.requested_at = view.requested_at or event.occurred_at
            view.reason = p.reason or view.reason
        view.note = p.note or view.note
        view.lines.update({line.line_id: line.quantity for line in p.lines or ()})


def count_notes(timeline: Timeline) -> None:
    """Each exception's ``notes_count``: the entries of the note history about it."""
    counts: dict[str, int] = {}
    for note in timeline.notes:
        if note.exception_id is not None:
            counts[note.exception_id] = counts.get(note.exception_id, 0) + 1
    for view in timeline.exceptions:
        view.notes_count = counts.get(view.exception_id, 0)
