"""Generated notification outcomes for the notification KPI tests, and an independent Python
reference of every notification KPI (computed from the records, never from SQL)."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.notify.model import MessageState, NotifyChannel, Record, message_id_for
from tests.projections.sla_data import percentiles

#: the period the generated data is about; records outside it exist too and must not count
START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 10
REASONS = ("quiet_hours_expired", "opted_out", "overtaken", "no_address")
ENDPOINTS = ("sub_crm", "sub_oms", "sub_data")


@dataclass
class Exception_:
    order_id: str
    exception_id: str
    opened_at: datetime


@dataclass
class Generated:
    records: list[Record] = field(default_factory=list)
    exceptions: list[Exception_] = field(default_factory=list)


def _record(
    order_id: str,
    key: str,
    channel: NotifyChannel,
    kind: str,
    state: MessageState,
    at: datetime,
    triggered_at: datetime,
    **extra: Any,
) -> Record:
    return Record(
        message_id=message_id_for(key),
        order_id=order_id,
        channel=channel,
        kind=kind,
        recipient_hash=hashlib.sha256(f"{order_id}@example.com".encode()).hexdigest(),
        state=state,
        at=at,
        triggered_at=triggered_at,
        **extra,
    )


def generate(rng: random.Random, orders: int) -> Generated:
    """Orders with shipped e-mails, delays (exceptions and their 'delayed' messages, some never
    sent), suppressed SMS and webhook deliveries that succeed or fail; some outside the period."""
    data = Generated()
    for index in range(orders):
        order_id = f"N-{index:04d}"
        placed = START + timedelta(days=rng.uniform(-2, DAYS + 1), minutes=rng.randrange(1440))
        email = NotifyChannel.EMAIL
        shipped_at = placed + timedelta(hours=rng.uniform(2, 30))
        sent_at = shipped_at + timedelta(seconds=rng.uniform(1, 900))
        data.records.append(
            _record(order_id, f"{order_id}:shipped:email", email, "shipped", MessageState.SENT,
                    sent_at, shipped_at, attempts=1)
        )  # fmt: skip
        if rng.random() < 0.5:
            opened = shipped_at + timedelta(hours=rng.uniform(1, 48))
            exception_id = f"exc-{index}"
            data.exceptions.append(Exception_(order_id, exception_id, opened))
            if rng.random() < 0.8:  # the customer is told, minutes later (or not at all)
                for channel in (email, NotifyChannel.SMS) if rng.random() < 0.4 else (email,):
                    at = opened + timedelta(minutes=rng.uniform(0.5, 600))
                    data.records.append(
                        _record(order_id, f"{order_id}:{exception_id}:{channel}", channel,
                                "delayed", MessageState.SENT, at, opened, attempts=1)
                    )  # fmt: skip
            else:
                data.records.append(
                    _record(order_id, f"{order_id}:{exception_id}:email", email, "delayed",
                            MessageState.SUPPRESSED, opened, opened, reason="opted_out")
                )  # fmt: skip
            # an agent alert is not a customer message
            data.records.append(
                _record(order_id, f"{order_id}:{exception_id}:chat", NotifyChannel.CHAT, "alert",
                        MessageState.SENT, opened + timedelta(seconds=5), opened,
                        endpoint="0", attempts=1)
            )  # fmt: skip
        if rng.random() < 0.3:
            at = shipped_at + timedelta(hours=rng.uniform(0, 12))
            data.records.append(
                _record(order_id, f"{order_id}:shipped:sms", NotifyChannel.SMS, "shipped",
                        MessageState.SUPPRESSED, at, shipped_at, reason=rng.choice(REASONS))
            )  # fmt: skip
        for endpoint in rng.sample(ENDPOINTS, k=rng.randrange(len(ENDPOINTS) + 1)):
            failed = rng.random() < (0.1 if endpoint != "sub_data" else 0.6)
            attempts = rng.randrange(6, 12) if failed else rng.randrange(1, 4)
            data.records.append(
                _record(order_id, f"{order_id}:order.status_changed:{endpoint}",
                        NotifyChannel.WEBHOOK, "order.status_changed",
                        MessageState.FAILED if failed else MessageState.SENT,
                        shipped_at + timedelta(minutes=rng.uniform(0, 90)), shipped_at,
                        attempts=attempts, endpoint=endpoint,
                        status_code=500 if failed else 204,
                        latency_ms=None if failed else round(rng.uniform(5, 800), 3),
                        reason="retry horizon passed" if failed else None)
            )  # fmt: skip
    return data


# --- the reference ----------------------------------------------------------------------------


def _in(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= at < end


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def reference(data: Generated, start: datetime, end: datetime) -> dict[str, Any]:
    """Every notification section, as the SQL should compute it, for ``[start, end)``."""
    records = {(r.message_id, r.state): r for r in data.records}.values()  # each once
    customer = (NotifyChannel.EMAIL, NotifyChannel.SMS)
    delays: dict[str, list[datetime]] = defaultdict(list)
    for r in records:
        if r.state == MessageState.SENT and r.kind == "delayed" and r.channel in customer:
            delays[r.order_id].append(r.at)
    opened = [e for e in data.exceptions if _in(e.opened_at, start, end)]
    waits = []
    for e in opened:
        after = [at for at in delays[e.order_id] if at >= e.opened_at]
        if after:
            waits.append(_minutes(e.opened_at, min(after)))
    delay = {
        "exceptions": len(opened),
        "notified": len(waits),
        "notified_rate": len(waits) / len(opened) if opened else None,
        "detected_to_notified_min": percentiles(waits, (0.5, 0.9)),
    }
    period = [r for r in records if _in(r.at, start, end)]
    messages: dict[str, dict[str, Any]] = {}
    channels = sorted({str(r.channel) for r in period})
    customer_channels = {"email", "sms"} & set(channels)
    for name in [*channels, *(["customer"] if customer_channels else []), "all"]:
        mine = [
            r
            for r in period
            if name in ("all", str(r.channel)) or (name == "customer" and r.channel in customer)
        ]
        sent = [r for r in mine if r.state == MessageState.SENT]
        orders = {r.order_id for r in sent}
        messages[name] = {
            "sent": len(sent),
            "failed": sum(r.state == MessageState.FAILED for r in mine),
            "suppressed": sum(r.state == MessageState.SUPPRESSED for r in mine),
            "orders_messaged": len(orders),
            "messages_per_order": len(sent) / len(orders) if orders else None,
            "trigger_to_sent_min": percentiles(
                [_minutes(r.triggered_at, r.at) for r in sent], (0.5, 0.9)
            ),
        }
    suppressions: dict[str, dict[str, Any]] = {}
    for r in period:
        if r.state == MessageState.SUPPRESSED:
            row = suppressions.setdefault(r.reason or "(none)", {"suppressed": 0, "orders": set()})
            row["suppressed"] += 1
            row["orders"].add(r.order_id)
    for row in suppressions.values():
        row["orders"] = len(row["orders"])
    webhooks: dict[str, dict[str, Any]] = {}
    for endpoint in sorted({r.endpoint or "" for r in period if r.channel == "webhook"}):
        mine = [r for r in period if r.channel == "webhook" and r.endpoint == endpoint]
        ok = [r for r in mine if r.state == MessageState.SENT]
        failed = [r for r in mine if r.state == MessageState.FAILED]
        webhooks[endpoint] = {
            "delivered": len(ok),
            "failed": len(failed),
            "success_rate": len(ok) / (len(ok) + len(failed)) if ok or failed else None,
            "attempts_per_delivery": sum(r.attempts for r in ok) / len(ok) if ok else None,
            "latency_ms": percentiles([r.latency_ms for r in ok if r.latency_ms is not None],
                                      (0.5, 0.9)),
        }  # fmt: skip
    return {
        "notify_delay": delay,
        "notify_messages": messages,
        "notify_suppressions": suppressions,
        "notify_webhooks": webhooks,
    }


def exception_rows(data: Generated) -> list[tuple[Any, ...]]:
    """Rows of ``{db}.exceptions`` (EXCEPTION_COLUMNS): each exception at two timeline versions,
    as the warehouse writes them; FINAL keeps the latest."""
    rows = []
    for e in data.exceptions:
        for version, state in ((1, "open"), (2, "resolved")):
            rows.append(
                (e.order_id, e.exception_id, "delayed", "medium", "carrier", "SHP-1", "weather",
                 state, "", e.opened_at, None, None, version, "", "", 0, "", None, "", "", "")
            )  # fmt: skip
    return rows
