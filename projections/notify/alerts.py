"""Agent alerts: an exception opened at or above ``settings.notify.alert_min_severity`` goes to
every configured team-chat target (``alert_urls``, apprise URLs), besides the console's feed.

Planned from the exception lifecycle events the sweeper publishes (``exception.opened``; the
acknowledgements and resolutions are the console's business, not the chat's). One message per
target index, keyed ``(order, alert:<exception id>, chat, index)``, so a redelivered event alerts
once. :func:`render_alert` gives the title and body a chat notification shows; the targets'
URLs (which hold tokens) never enter a message.
"""

from __future__ import annotations

from projections.notify.model import Message, NotifyChannel
from wismo.events import Event, ExceptionOpenedEvent
from wismo.settings import NotifySettings
from wismo.vocab import Severity

ALERT = "alert"
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


def plan_alert(exception_event: Event, settings: NotifySettings) -> list[Message]:
    """The chat messages an exception lifecycle event calls for (none below the threshold)."""
    if not isinstance(exception_event, ExceptionOpenedEvent):
        return []  # acknowledgements and resolutions: the console's feed, not the chat's
    opened = exception_event.payload
    if _SEVERITY_RANK[opened.severity] < _SEVERITY_RANK[Severity(settings.alert_min_severity)]:
        return []
    order_id = exception_event.order_id or ""
    payload = {
        "order_id": order_id,
        "exception_id": opened.exception_id,
        "type": opened.type.value,
        "severity": opened.severity.value,
        "owner": opened.owner.value,
        "subject": opened.subject,
        "reason": opened.reason.value if opened.reason else None,
        "message": opened.message,
        "opened_at": exception_event.occurred_at.isoformat(),
    }
    return [
        Message(
            key=f"{order_id}|alert:{opened.exception_id}|chat|{index}",
            order_id=order_id,
            channel=NotifyChannel.CHAT,
            recipient=str(index),
            kind=ALERT,
            subject=opened.exception_id,
            payload=payload,
            triggered_at=exception_event.occurred_at,
            due_at=exception_event.occurred_at,
            version=0,
        )
        for index in range(len(settings.alert_urls))
    ]


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
