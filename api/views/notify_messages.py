"""What was sent about an order, and the manual re-send (docs/notifications.md, "Ledger").

``GET /v1/agent/orders/{order_id}/notifications`` lists the order's messages from the ledger
(:class:`projections.notify.ledger.Ledger`): state, channel, recipient, why it was suppressed or
failed. Viewers see recipients masked (``a***@example.com``), like every personal field
(:mod:`api.personal`). ``POST /v1/notify/messages/{message_id}/resend`` puts a sent or failed
message back on the queue under the same message id, so a receiver that already has it can
tell.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from api.errors import BadRequest, Conflict, NotFound
from api.keys import CLOCK, REDIS, SETTINGS
from api.personal import sees_personal_data
from api.views.agent import agent, known_parameters, sees_order
from api.views.notify_subscriptions import SUBSCRIPTION_READERS, SUBSCRIPTION_WRITERS, json
from projections.notify.ledger import DEFAULT_KEEP_S, Entry, Ledger
from projections.notify.model import MessageState, NotifyChannel
from projections.notify.subscriptions import mask_recipient

#: the states a message can be sent again from
RESENDABLE = frozenset({MessageState.SENT, MessageState.FAILED})
MAX_MESSAGES = 500
_WEEK_S = 7 * 86400.0


def ledger(request: web.Request) -> Ledger:
    settings = request.app[SETTINGS]
    keep = max(DEFAULT_KEEP_S, settings.notify.retry_horizon_s + _WEEK_S)
    return Ledger(request.app[REDIS], settings.redis.key_prefix, keep_s=keep)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def entry_document(entry: Entry, *, personal: bool) -> dict[str, Any]:
    message = entry.message
    recipient = message.recipient
    if not personal:
        recipient = mask_recipient(message.channel, recipient)
    return {
        "message_id": entry.message_id,
        "order_id": message.order_id,
        "channel": message.channel.value,
        "recipient": recipient,
        "kind": message.kind,
        "subject": message.subject,
        "state": entry.state.value,
        "reason": entry.reason,
        "error": entry.error,
        "attempts": entry.attempts,
        "status_code": entry.status_code,
        "latency_ms": entry.latency_ms,
        "manual": entry.manual,
        "version": message.version,
        "triggered_at": message.triggered_at.isoformat(),
        "planned_at": _time(entry.planned_at),
        "due": _time(entry.due),
        "sent_at": _time(entry.sent_at),
        "updated": _time(entry.updated),
        "resendable": entry.state in RESENDABLE,
    }


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MESSAGES:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_MESSAGES}")
    return int(raw)


async def order_notifications(request: web.Request) -> web.Response:
    who = agent(request, SUBSCRIPTION_READERS)
    known_parameters(request, frozenset({"limit"}))
    order_id = request.match_info["order_id"]
    entries = await ledger(request).for_order(order_id, _limit(request))
    if who.brands is not None and not await sees_order(request, who, order_id):
        entries = []  # another brand's order: as an order with no messages
    personal = sees_personal_data(who.roles)
    return json(
        {
            "order_id": order_id,
            "notifications": [entry_document(e, personal=personal) for e in entries],
        }
    )


async def resend(request: web.Request) -> web.Response:
    who = agent(request, SUBSCRIPTION_WRITERS)
    message_id = request.match_info["message_id"]
    book = ledger(request)
    entry = await book.get(message_id)
    if entry is None or (
        who.brands is not None and not await sees_order(request, who, entry.message.order_id)
    ):
        raise NotFound(f"message {message_id} is not known (or has expired from the ledger)")
    if entry.state not in RESENDABLE:
        raise Conflict(
            f"message {message_id} is {entry.state.value}; only sent or failed messages are "
            "sent again"
            + (" (it was suppressed on purpose: " + entry.reason + ")" if entry.reason else "")
        )
    now = request.app[CLOCK]()
    if not await book.requeue(message_id, now):
        raise NotFound(f"message {message_id} is not known (or has expired from the ledger)")
    channel = entry.message.channel
    recipient = entry.message.recipient
    if channel in (NotifyChannel.EMAIL, NotifyChannel.SMS) and not sees_personal_data(who.roles):
        recipient = mask_recipient(channel, recipient)
    return json(
        {
            "status": "queued",
            "message_id": message_id,
            "channel": channel.value,
            "recipient": recipient,
            "by": who.agent_id,
            "at": now.isoformat(),
        },
        status=202,
    )
