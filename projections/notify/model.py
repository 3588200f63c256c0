"""The notification types every part of the ``notify`` role and the API share.

A :class:`Message` is one thing to send to one recipient over one channel. Its ``key`` is the
idempotency key — ``(order, milestone or event, channel, recipient)`` — and its ``message_id`` is
derived from the key alone, so planning the same message twice (a redelivered timeline change, a
rebalance, a restarted worker) yields the same id, and the ledger keeps the first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NotifyChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    CHAT = "chat"


class Milestone(StrEnum):
    """Customer journey steps, in the order a parcel normally passes them (``rank``)."""

    SHIPPED = "shipped"
    DELAYED = "delayed"
    ARRIVING_SOON = "arriving_soon"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    ALL_DELIVERED = "all_delivered"
    RETURN_RECEIVED = "return_received"
    REFUND_ISSUED = "refund_issued"


#: integrator event types an outbound webhook subscription can ask for
EVENT_TYPES = (
    "order.status_changed",
    "shipment.milestone",
    "exception.opened",
    "exception.acknowledged",
    "exception.resolved",
    "exception.assigned",
    "exception.escalated",
    "return.requested",
    "return.authorized",
    "return.shipped",
    "return.received",
    "return.rejected",
    "refund.issued",
    "cancel.requested",
    "cancel.confirmed",
    "cancel.rejected",
)


class MessageState(StrEnum):
    QUEUED = "queued"  # planned, waiting for its due time
    SENDING = "sending"  # an attempt is in flight (or its worker died: outcome unknown)
    SENT = "sent"
    FAILED = "failed"  # gave up: retry horizon passed, endpoint disabled, permanent error
    SUPPRESSED = "suppressed"  # not sent on purpose (reason says why)


#: how a message id looks (:func:`message_id_for`), e.g. to find it inside a ``Message-ID``
MESSAGE_ID = re.compile(r"msg_[0-9a-f]{32}")


def message_id_for(key: str) -> str:
    """The message id of an idempotency key: ``msg_`` + 32 hex digits of its SHA-256."""
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Message:
    """One planned message. ``payload`` is what the renderer (e-mail, SMS, chat) or the webhook
    body needs; it holds no secret. ``recipient`` is an address, a phone number, a subscription
    id (webhooks) or an alert target index (chat)."""

    key: str
    order_id: str
    channel: NotifyChannel
    recipient: str
    kind: str  # a Milestone value, an EVENT_TYPES value, or "alert"
    subject: str  # what it is about: a shipment, exception, return or refund id, or the order
    payload: dict[str, Any]
    triggered_at: datetime  # when the event that caused it happened (for delay KPIs)
    due_at: datetime  # not before (quiet hours)
    rank: int = 0  # journey rank: a queued message is overtaken by a later rank on its subject
    version: int = 0  # the order's timeline version it was planned from

    @property
    def message_id(self) -> str:
        return message_id_for(self.key)


@dataclass(frozen=True, slots=True)
class Record:
    """One outcome, on the notifications topic and in ClickHouse ``notifications``."""

    message_id: str
    order_id: str
    channel: NotifyChannel
    kind: str
    recipient_hash: str  # SHA-256 of the recipient: no personal data in analytics
    state: MessageState
    at: datetime
    triggered_at: datetime
    attempts: int = 0
    reason: str | None = None  # why failed or suppressed
    endpoint: str | None = None  # webhook subscription id / chat target
    status_code: int | None = None
    latency_ms: float | None = None


@dataclass(slots=True)
class Contacts:
    """What an order's own events say about reaching its customer (never in the timeline)."""

    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    time_zone: str | None = None


@dataclass(slots=True)
class Preferences:
    """Per-order opt-in and opt-out: ``channel:recipient`` → True (subscribed) / False (out)."""

    choices: dict[str, bool] = field(default_factory=dict)

    def says(self, channel: NotifyChannel, recipient: str) -> bool | None:
        return self.choices.get(f"{channel.value}:{recipient.lower()}")


class SubscriptionFilters(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: tuple[str, ...] = ()  # b2c / b2b; empty = any
    carriers: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()


class Subscription(BaseModel):
    """An integrator's outbound webhook endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    url: str
    event_types: tuple[str, ...]
    filters: SubscriptionFilters = SubscriptionFilters()
    secrets: tuple[str, ...] = Field(description="whsec_ secrets; two during a rotation")
    description: str | None = None
    paused: bool = False
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    max_concurrency: int | None = None  # None: settings.notify.endpoint_concurrency
