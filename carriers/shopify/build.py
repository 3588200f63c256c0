"""The order-side events a Shopify delivery states, with ids derived from Shopify's own ids.

Every id is a hash of (source, kind, natural key) where the key is made of Shopify ids and, for
snapshots, ``updated_at``: the same fact reached through two topics (a fulfilment inside an
``orders/updated`` and in ``fulfillments/update``) or a retried delivery collapses to one event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from carriers.common import parse_timestamp
from wismo.events import Event, EventKind, event_from_dict
from wismo.ids import natural_event_id

SOURCE_NAME = "shopify"

# Shopify writes every timestamp with its offset; one without is read as UTC rather than dropped.
NAIVE_TZ = UTC


def instant(value: object) -> datetime | None:
    return parse_timestamp(value, NAIVE_TZ)


def commerce_event(
    kind: EventKind,
    key: tuple[object, ...],
    *,
    order_id: str,
    occurred_at: datetime,
    received_at: datetime,
    payload: dict[str, Any],
    source: str = SOURCE_NAME,
) -> Event:
    """One canonical order-side event of ``source`` (the Salesforce OM source builds its events
    here too); raises ``ValueError`` when the values cannot form one."""
    return event_from_dict(
        {
            "kind": kind,
            "event_id": natural_event_id(source, kind.value, *key),
            "source": source,
            "order_id": order_id,
            "occurred_at": occurred_at,
            "received_at": received_at,
            "payload": {k: v for k, v in payload.items() if v is not None},
        }
    )


def positive_lines(pairs: list[tuple[str | None, int | None]]) -> list[dict[str, Any]] | None:
    """``LineQuantity`` items for the pairs with an id and a quantity of at least one."""
    lines = [
        {"line_id": line_id, "quantity": quantity}
        for line_id, quantity in pairs
        if line_id and quantity is not None and quantity >= 1
    ]
    return lines or None
