"""Notification KPIs as plain ClickHouse SQL, and the ``notifications`` row of a record. No I/O.

The ``notifications`` table holds one row per message and state (``sent``, ``failed``,
``suppressed``, …), written by the warehouse from the notify role's records. A record delivered
twice collapses under ``FINAL`` (key ``message_id, state``) and every count below is of distinct
message ids, so at-least-once delivery never counts a message twice. Definitions: docs/kpis.md,
"Notifications".

A notification section covers the messages whose outcome (``at``) falls in the period, and the
exceptions *opened* in it; the shipment groupings (``--by``) do not apply to these sections.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from projections.notify.model import Record

#: columns of ``{db}.notifications``, in insert order
NOTIFICATION_COLUMNS = (
    "message_id", "order_id", "channel", "kind", "recipient_hash", "state", "at", "triggered_at",
    "attempts", "reason", "endpoint", "status_code", "latency_ms",
)  # fmt: skip

#: channels that reach the customer (as opposed to integrators' webhooks and agents' chat)
CUSTOMER_CHANNELS = ("email", "sms")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: what ``DateTime64(3, 'UTC')`` holds with room to spare: a record outside is not a real outcome
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def unstorable(record: Record) -> str | None:
    """Why the record cannot be a row (a time ClickHouse cannot hold), or ``None``."""
    for name, value in (("at", record.at), ("triggered_at", record.triggered_at)):
        if not EARLIEST <= _utc(value) < LATEST:
            return f"{name} {value.isoformat()} is outside {EARLIEST.year}..{LATEST.year}"
    return None


def notification_row(record: Record) -> tuple[Any, ...]:
    """The values of :data:`NOTIFICATION_COLUMNS` for one record; absent text is ``''``."""
    return (
        record.message_id,
        record.order_id,
        str(record.channel),
        record.kind,
        record.recipient_hash,
        str(record.state),
        _utc(record.at),
        _utc(record.triggered_at),
        min(max(record.attempts, 0), 65535),
        record.reason or "",
        record.endpoint or "",
        record.status_code
        if record.status_code is not None and 0 <= record.status_code < 65536
        else None,
        record.latency_ms,
    )


_IN_PERIOD = "n.at >= {start:Date} AND n.at < {end:Date}"
_MINUTES = "(toUnixTimestamp64Milli(notified_at) - toUnixTimestamp64Milli(opened_at)) / 60000"
_CUSTOMER = ", ".join(f"'{channel}'" for channel in CUSTOMER_CHANNELS)

NOTIFIED_SQL = f"""SELECT count() AS exceptions,
    countIf(notified_at IS NOT NULL) AS notified,
    notified / nullIf(exceptions, 0) AS notified_rate,
    quantilesExactInclusiveIf(0.5, 0.9)({_MINUTES}, notified_at IS NOT NULL)
        AS detected_to_notified_min
FROM (
    SELECT e.order_id AS order_id, e.exception_id AS exception_id, e.opened_at AS opened_at,
        minIfOrNull(n.at, n.at >= e.opened_at) AS notified_at
    FROM {{db}}.exceptions AS e FINAL
    LEFT JOIN (
        SELECT order_id, at FROM {{db}}.notifications FINAL
        WHERE state = 'sent' AND kind = 'delayed' AND channel IN ({_CUSTOMER})
    ) AS n ON n.order_id = e.order_id
    WHERE e.opened_at >= {{start:Date}} AND e.opened_at < {{end:Date}}
    GROUP BY order_id, exception_id, opened_at
)"""

#: a message counts under its channel, under ``customer`` (e-mail and SMS) and under ``all``
_LABELS = f"arrayConcat([n.channel], if(n.channel IN ({_CUSTOMER}), ['customer'], []), ['all'])"
MESSAGES_SQL = f"""SELECT label AS channel,
    uniqExactIf(n.message_id, n.state = 'sent') AS sent,
    uniqExactIf(n.message_id, n.state = 'failed') AS failed,
    uniqExactIf(n.message_id, n.state = 'suppressed') AS suppressed,
    uniqExactIf(n.order_id, n.state = 'sent') AS orders_messaged,
    sent / nullIf(orders_messaged, 0) AS messages_per_order,
    quantilesExactInclusiveIf(0.5, 0.9)(
        (toUnixTimestamp64Milli(n.at) - toUnixTimestamp64Milli(n.triggered_at)) / 60000,
        n.state = 'sent'
    ) AS trigger_to_sent_min
FROM {{db}}.notifications AS n FINAL
ARRAY JOIN {_LABELS} AS label
WHERE {_IN_PERIOD}
GROUP BY label
ORDER BY indexOf(['customer', 'all'], label), label"""

SUPPRESSIONS_SQL = f"""SELECT if(n.reason = '', '(none)', n.reason) AS reason,
    uniqExact(n.message_id) AS suppressed,
    uniqExact(n.order_id) AS orders
FROM {{db}}.notifications AS n FINAL
WHERE n.state = 'suppressed' AND {_IN_PERIOD}
GROUP BY reason
ORDER BY suppressed DESC, reason"""

WEBHOOKS_SQL = f"""SELECT n.endpoint AS endpoint,
    uniqExactIf(n.message_id, n.state = 'sent') AS delivered,
    uniqExactIf(n.message_id, n.state = 'failed') AS failed,
    delivered / nullIf(delivered + failed, 0) AS success_rate,
    avgIf(n.attempts, n.state = 'sent') AS attempts_per_delivery,
    quantilesExactInclusiveIf(0.5, 0.9)(n.latency_ms, n.state = 'sent'
        AND n.latency_ms IS NOT NULL) AS latency_ms
FROM {{db}}.notifications AS n FINAL
WHERE n.channel = 'webhook' AND n.state IN ('sent', 'failed') AND {_IN_PERIOD}
GROUP BY endpoint
ORDER BY endpoint"""

#: section name → SQL (parameters ``start`` and ``end``: the day after the period)
NOTIFICATION_SECTIONS: dict[str, str] = {
    "notify_delay": NOTIFIED_SQL,
    "notify_messages": MESSAGES_SQL,
    "notify_suppressions": SUPPRESSIONS_SQL,
    "notify_webhooks": WEBHOOKS_SQL,
}
