"""One escalation → one Salesforce case → one ``exception.case_opened`` (or a dead letter).

:func:`open_case` is the step the ``cases`` agent runs per escalation, with its parts passed in:
an escalation already handled (a redelivery after a restart) is skipped; otherwise the case is
upserted and its number read (:class:`streams.cases.client.CaseClient`), and the answer is the
event to publish, or a dead letter with the reason when Salesforce refused or stayed away. The
caller publishes it, waits for the broker's acknowledgement, and only then records the
escalation as handled, so a crash in between repeats the step (Salesforce's upsert and the
event's id make the repeat harmless).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from carriers.salesforce_om.cases import SOURCE, ExceptionFacts, case_fields, case_opened
from streams.cases.client import CaseClient, CaseError
from streams.cases.handled import HandledEscalations
from wismo.deadletter import DeadLetter
from wismo.events import Event, ExceptionEscalatedEvent


@dataclass(frozen=True, slots=True)
class Opened:
    event: Event
    case_id: str

    @property
    def record(self) -> str:
        return f"opened:{self.case_id}"


@dataclass(frozen=True, slots=True)
class Refused:
    letter: DeadLetter

    @property
    def record(self) -> str:
        return f"dead:{self.letter.reason}"


@dataclass(frozen=True, slots=True)
class Where:
    """Where the escalation was read (kept in a dead letter)."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


async def open_case(
    escalation: ExceptionEscalatedEvent,
    raw: bytes,
    *,
    client: CaseClient,
    handled: HandledEscalations,
    facts: Callable[[ExceptionEscalatedEvent], Awaitable[ExceptionFacts]],
    now: Callable[[], datetime],
    where: Where = Where(),
) -> Opened | Refused | None:
    """The case opened for ``escalation`` (as its event), a dead letter, or None when the
    escalation was handled before."""
    if await handled.outcome(escalation.event_id) is not None:
        return None
    fields = case_fields(client.target, escalation, await facts(escalation))
    exception_id = escalation.payload.exception_id
    try:
        case = await client.open(exception_id, fields)
    except CaseError as error:
        letter = DeadLetter(
            reason=f"no Salesforce case for exception {exception_id}: {error}",
            source=SOURCE,
            raw=raw,
            headers={},
            failed_at=now(),
            topic=where.topic,
            partition=where.partition,
            offset=where.offset,
        )
        return Refused(letter)
    event = case_opened(escalation, case.case_id, case.case_number, case.url, now())
    return Opened(event, case.case_id)
