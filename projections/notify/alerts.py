"""Agent alerts: an exception opened at or above ``settings.notify.alert_min_severity`` goes to
every configured team-chat target (``alert_urls``, apprise URLs), besides the console's feed.

Planned from the exception lifecycle events the sweeper publishes (``exception.opened``; the
acknowledgements and resolutions are the console's business, not the chat's), and — since a
customer's report (``problem.reported``) opens its exception in the fold, not on the exceptions
topic — from the timeline for customer reports (:func:`report_alerts`, marked ``alert:<exception
id>`` in the order's state map). One message per target index, keyed ``(order, alert:<exception
id>, chat, index)``, so a redelivered event alerts once. :func:`render_alert` gives the title and
body a chat notification shows; the targets' URLs (which hold tokens) never enter a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from projections.notify.model import Message, NotifyChannel
from projections.timeline_model import Timeline
from wismo.events import Event, ExceptionOpenedEvent
from wismo.settings import NotifySettings
from wismo.vocab import Severity

ALERT = "alert"
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


def _alerted(severity: Severity | None, settings: NotifySettings) -> bool:
    threshold = _SEVERITY_RANK[Severity(settings.alert_min_severity)]
    return severity is not None and _SEVERITY_RANK[severity] >= threshold


def _messages(
    payload: dict[str, Any], at: datetime, due_at: datetime, settings: NotifySettings, version: int
) -> list[Message]:
    order_id, exception_id = payload["order_id"], payload["exception_id"]
    return [
        Message(
            key=f"{order_id}|{ALERT}:{exception_id}|chat|{index}",
            order_id=order_id,
            channel=NotifyChannel.CHAT,
            recipient=str(index),
            kind=ALERT,
            subject=exception_id,
            payload=payload,
            triggered_at=at,
            due_at=due_at,
            version=version,
        )
        for index in range(len(settings.alert_urls))
    ]


def plan_alert(exception_event: Event, settings: NotifySettings) -> list[Message]:
    """The chat messages an exception lifecycle event calls for (none below the threshold)."""
    if not isinstance(exception_event, ExceptionOpenedEvent):
        return []  # acknowledgements and resolutions: the console's feed, not the chat's
    opened = exception_event.payload
    if not _alerted(opened.severity, settings):
        return []
    payload = {
        "order_id": exception_event.order_id or "",
        "exception_id": opened.exception_id,
        "type": opened.type.value,
        "severity": opened.severity.value,
        "owner": opened.owner.value,
        "subject": opened.subject,
        "reason": opened.reason.value if opened.reason else None,
        "message": opened.message,
        "opened_at": exception_event.occurred_at.isoformat(),
    }
    at = exception_event.occurred_at
    return _messages(payload, at, at, settings, 0)


def alert_key(exception_id: str) -> str:
    """The state-map entry of a customer report already alerted."""
    return f"{ALERT}:{exception_id}"


def report_alerts(
    timeline: Timeline, handled: Mapping[str, str], settings: NotifySettings, now: datetime
) -> tuple[list[Message], list[str]]:
    """The chat alerts of customer reports at or above the threshold not alerted yet, and the
    state-map keys to mark (also for reports below the threshold: decided once)."""
    messages: list[Message] = []
    marked: list[str] = []
    for view in timeline.exceptions:
        if not view.reported_by_customer or alert_key(view.exception_id) in handled:
            continue
        marked.append(alert_key(view.exception_id))
        if not _alerted(view.severity, settings):
            continue
        at = view.opened_at or now
        payload = {
            "order_id": timeline.order_id,
            "exception_id": view.exception_id,
            "type": view.type.value if view.type else "customer_reported",
            "severity": view.severity.value if view.severity else None,
            "owner": view.owner.value if view.owner else "retailer",
            "subject": view.subject,
            "reason": view.problem.value if view.problem else None,
            "message": view.message,
            "opened_at": at.isoformat(),
        }
        messages += _messages(payload, at, now, settings, timeline.version)
    return messages, marked


def _words(value: object) -> str:
    return str(value).replace("_", " ")


def render_alert(message: Message) -> tuple[str, str]:
    """(title, body) of an alert, plain text for any chat service."""
    p = message.payload
    severity = _words(p["severity"]).capitalize()
    title = f"{severity} exception: {_words(p['type'])} on order {p['order_id']}"
    lines = [
        str(p.get("message") or ""),
        f"Subject: {p['subject']}" if p.get("subject") else "",
        f"Reason: {_words(p['reason'])}" if p.get("reason") else "",
        f"Owner: {_words(p['owner'])}",
        f"Exception: {p['exception_id']}, opened {p['opened_at']}",
    ]
    return title, "\n".join(line for line in lines if line)
