"""Salesforce Service Cloud cases for escalated exceptions: the requests and what their answers
mean (no I/O; :mod:`streams.cases` sends them).

A case is opened with an *upsert by external id*: ``PATCH …/sobjects/Case/{field}/{exception
id}``, where ``field`` is a Case external-id field the org adds (``Wismo_Exception_Id__c`` by
default, docs/integrations.md "Cases"). The same exception always names the same case, so a
retried or repeated call opens one case. Salesforce answers 201 with the new case's id, 200
(with ``"created": false``) or 204 (older API versions, no body) when it already existed; the
case number is then read with ``GET …/sobjects/Case/{id}?fields=Id,CaseNumber`` (by external id
when the upsert gave no id).

:func:`judge` sorts an answer: done, retry (429 and 5xx, after ``Retry-After`` when given),
renew the token (401), or refused for good (any other 4xx, with Salesforce's error code and
message as the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from wismo.events import Event, EventKind, ExceptionEscalatedEvent, event_from_dict
from wismo.ids import natural_event_id

#: the source of ``exception.case_opened`` events
SOURCE = "servicecloud"
_SUBJECT_CHARS = 255
_DESCRIPTION_CHARS = 32_000
_PRIORITY = {"critical": "High", "high": "High", "medium": "Medium", "low": "Low"}


@dataclass(frozen=True, slots=True)
class CaseTarget:
    """Where cases go (from ``settings.cases``)."""

    instance_url: str
    api_version: str
    external_id_field: str
    origin: str

    @property
    def base(self) -> str:
        return f"{self.instance_url.rstrip('/')}/services/data/{self.api_version}/sobjects/Case"

    def upsert_url(self, exception_id: str) -> str:
        return f"{self.base}/{self.external_id_field}/{quote(exception_id, safe='')}"

    def read_url(self, case_id: str | None, exception_id: str) -> str:
        """The case's id and number: by its id, else by the external id."""
        where = (
            quote(case_id, safe="")
            if case_id
            else self.upsert_url(exception_id)[len(self.base) + 1 :]
        )
        return f"{self.base}/{where}?fields=Id,CaseNumber"

    def lightning_url(self, case_id: str) -> str:
        return f"{self.instance_url.rstrip('/')}/lightning/r/Case/{quote(case_id, safe='')}/view"


@dataclass(frozen=True, slots=True)
class ExceptionFacts:
    """What the timeline knows of the exception (all optional: the escalation alone will do)."""

    order_number: str | None = None
    type: str | None = None
    severity: str | None = None
    subject: str | None = None
    message: str | None = None


def case_fields(
    target: CaseTarget, escalation: ExceptionEscalatedEvent, facts: ExceptionFacts
) -> dict[str, str]:
    """The Case's Subject, Description, Origin and Priority for an escalation."""
    p = escalation.payload
    order = facts.order_number or escalation.order_id or "unknown order"
    what = (facts.type or "exception").replace("_", " ")
    subject = f"{what.capitalize()} on order {order}"
    if facts.subject:
        subject += f" ({facts.subject})"
    lines = [
        f"Escalated by {p.by}" + (f" to {p.to}" if p.to else "") + f": {p.reason}",
        f"Order id: {escalation.order_id}",
        f"Exception id: {p.exception_id}",
    ]
    if facts.message:
        lines.append(f"What happened: {facts.message}")
    return {
        "Subject": subject[:_SUBJECT_CHARS],
        "Description": "\n".join(lines)[:_DESCRIPTION_CHARS],
        "Origin": target.origin,
        "Priority": _PRIORITY.get(facts.severity or "", "Medium"),
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do after one answer."""

    action: Literal["done", "retry", "renew", "refused"]
    reason: str = ""
    wait_s: float | None = None


def judge(status: int, body: Any, retry_after_s: float | None) -> Verdict:
    if 200 <= status < 300:
        return Verdict("done")
    said = salesforce_error(body)
    if status == 401:
        return Verdict("renew", f"HTTP 401: {said}")
    if status == 429 or status >= 500:
        return Verdict("retry", f"HTTP {status}: {said}", retry_after_s)
    return Verdict("refused", f"Salesforce refused with HTTP {status}: {said}")


def salesforce_error(body: Any) -> str:
    """``ERROR_CODE: message`` of Salesforce's error list (or the OAuth error), else a hint."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return f"{first.get('errorCode', 'ERROR')}: {first.get('message', '')}".strip()
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('error_description', '')}".strip()
    return "no error detail"


def upserted_id(status: int, body: Any) -> str | None:
    """The case id an upsert answer names (201, 200), or None (204: read it by external id)."""
    if status != 204 and isinstance(body, dict) and isinstance(body.get("id"), str):
        return str(body["id"])
    return None


def case_number(body: Any) -> tuple[str, str] | None:
    """(Id, CaseNumber) of a read answer, when it has both."""
    if isinstance(body, dict):
        case_id, number = body.get("Id"), body.get("CaseNumber")
        if isinstance(case_id, str) and isinstance(number, str) and case_id and number:
            return case_id, number
    return None


def case_opened(
    escalation: ExceptionEscalatedEvent, case_id: str, number: str, url: str, now: datetime
) -> Event:
    """The ``exception.case_opened`` event: one id per exception and case, however often the
    escalation is handled."""
    kind = EventKind.EXCEPTION_CASE_OPENED.value
    exception_id = escalation.payload.exception_id
    at = max(now, escalation.occurred_at)
    return event_from_dict(
        {
            "event_id": natural_event_id(SOURCE, kind, exception_id, case_id),
            "source": SOURCE,
            "kind": kind,
            "order_id": escalation.order_id,
            "occurred_at": at.isoformat(),
            "received_at": now.isoformat(),
            "payload": {
                "exception_id": exception_id,
                "system": "salesforce",
                "case_id": case_id,
                "case_number": number,
                "url": url,
            },
        }
    )
