"""Outcome records: what happened to each outbound message, on the notifications topic.

One :class:`~projections.notify.model.Record` per outcome — ``sent``, ``failed``,
``suppressed`` — keyed by order id, as JSON. The recipient travels only as its SHA-256, so the
topic and the ClickHouse ``notifications`` table hold no address or phone number.

Records reach the topic through the ledger's record outbox (:mod:`projections.notify.ledger`):
a record is written in the same atomic step as the state change it reports and published after,
so a crash in between publishes it again. Readers may therefore see a record twice; ``(message_id,
state)`` identifies it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from projections.notify.model import Message, MessageState, NotifyChannel, Record


def recipient_hash(recipient: str) -> str:
    """SHA-256 (hex) of the recipient, trimmed and lower-cased (e-mail case does not matter)."""
    return hashlib.sha256(recipient.strip().lower().encode()).hexdigest()


def record_for(
    message: Message,
    state: MessageState,
    at: datetime,
    *,
    attempts: int = 0,
    reason: str | None = None,
    status_code: int | None = None,
    latency_ms: float | None = None,
) -> Record:
    """The record of ``message`` reaching ``state`` at ``at``."""
    endpoint = message.recipient if message.channel in _ENDPOINT_CHANNELS else None
    return Record(
        message_id=message.message_id,
        order_id=message.order_id,
        channel=message.channel,
        kind=message.kind,
        recipient_hash=recipient_hash(message.recipient),
        state=state,
        at=at,
        triggered_at=message.triggered_at,
        attempts=attempts,
        reason=reason,
        endpoint=endpoint,
        status_code=status_code,
        latency_ms=latency_ms,
    )


_ENDPOINT_CHANNELS = frozenset({NotifyChannel.WEBHOOK, NotifyChannel.CHAT})


def encode_record(record: Record) -> bytes:
    """The record as JSON (times in ISO 8601 with their offset)."""
    return orjson.dumps(
        {
            "message_id": record.message_id,
            "order_id": record.order_id,
            "channel": record.channel.value,
            "kind": record.kind,
            "recipient_hash": record.recipient_hash,
            "state": record.state.value,
            "at": record.at.isoformat(),
            "triggered_at": record.triggered_at.isoformat(),
            "attempts": record.attempts,
            "reason": record.reason,
            "endpoint": record.endpoint,
            "status_code": record.status_code,
            "latency_ms": record.latency_ms,
        }
    )


def decode_record(value: bytes) -> Record:
    """The record :func:`encode_record` wrote; ``ValueError`` for anything else."""
    try:
        document: Any = orjson.loads(value)
        if not isinstance(document, dict):
            raise ValueError(f"a record is a JSON object, not {type(document).__name__}")
        status = document.get("status_code")
        latency = document.get("latency_ms")
        return Record(
            message_id=str(document["message_id"]),
            order_id=str(document["order_id"]),
            channel=NotifyChannel(document["channel"]),
            kind=str(document["kind"]),
            recipient_hash=str(document["recipient_hash"]),
            state=MessageState(document["state"]),
            at=_when(document["at"]),
            triggered_at=_when(document["triggered_at"]),
            attempts=int(document.get("attempts") or 0),
            reason=_text(document.get("reason")),
            endpoint=_text(document.get("endpoint")),
            status_code=None if status is None else int(status),
            latency_ms=None if latency is None else float(latency),
        )
    except (KeyError, TypeError, orjson.JSONDecodeError) as error:
        raise ValueError(f"not a notification record: {error}") from error


def _when(value: Any) -> datetime:
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"a record time needs its offset: {value!r}")
    return when


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
