"""The order-side events a Shopify delivery states, with ids derived from Shopify's own ids.

Every id is a hash of (source, kind, natural key) where the key is made of Shopify ids and, for
snapshots, ``updated_at``: the same fact reached through two topics (a fulfilment inside an
``orders/updated`` and in ``fulfillments/update``) or a retried delivery collapses to one event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from carriers.build import commerce_event
from carriers.times import parse_timestamp

SOURCE_NAME = "shopify"

# Shopify writes every timestamp with its offset; one without is read as UTC rather than dropped.
NAIVE_TZ = UTC


def instant(value: object) -> datetime | None:
    return parse_timestamp(value, NAIVE_TZ)


#: One canonical order-side event of Shopify's (see :func:`carriers.build.commerce_event`).
shopify_event = partial(commerce_event, source=SOURCE_NAME)


def positive_lines(pairs: list[tuple[str | None, int | None]]) -> list[dict[str, Any]] | None:
    """``LineQuantity`` items for the pairs with an id and a quantity of at least one."""
    lines = [
        {"line_id": line_id, "quantity": quantity}
        for line_id, quantity in pairs
        if line_id and quantity is not None and quantity >= 1
    ]
    return lines or None
