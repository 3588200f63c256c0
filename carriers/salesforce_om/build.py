"""Event construction shared by the Salesforce OM record and platform-event mappers.

Ids are hashes of Salesforce's own record ids plus, for snapshots of a record, its
``LastModifiedDate`` (else ``SystemModstamp``): the same record state sent twice (a Flow retry, a
REST poll and a callout) is one event; a later state of the record is a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from carriers.build import commerce_event
from carriers.salesforce_om.schema import SfRecord
from carriers.times import parse_timestamp
from wismo.events import Event, EventKind

SOURCE_NAME = "salesforce_om"

# The REST API and Apex write UTC with an offset (``…+0000`` / ``…Z``); a value without one is a
# hand-built Flow body, read as UTC as Salesforce stores it.
NAIVE_TZ = UTC


def instant(value: object) -> datetime | None:
    return parse_timestamp(value, NAIVE_TZ)


def modified_at(record: SfRecord) -> datetime | None:
    """When this state of the record was written."""
    return instant(record.LastModifiedDate) or instant(record.SystemModstamp)


@dataclass(frozen=True, slots=True)
class Context:
    """What a record inherits from where it was found: the delivery's time and, inside an
    ``OrderSummary``'s child relationships, the order it belongs to."""

    received_at: datetime
    order_id: str | None = None

    def event(
        self,
        kind: EventKind,
        key: tuple[object, ...],
        *,
        order_id: str,
        occurred_at: datetime,
        payload: dict[str, Any],
    ) -> Event:
        """One canonical event; raises ``ValueError`` when the values cannot form one."""
        return commerce_event(
            kind,
            key,
            order_id=order_id,
            occurred_at=occurred_at,
            received_at=self.received_at,
            payload=payload,
            source=SOURCE_NAME,
        )


def whole(quantity: Decimal | None) -> int | None:
    """Salesforce quantities are doubles (``2.0``); only whole, non-negative ones are counts."""
    if quantity is None or not quantity.is_finite() or quantity < 0:
        return None
    if quantity != quantity.to_integral_value():  # not ``% 1``: it cannot divide 1E+28
        return None
    return int(quantity)


def quantities(pairs: list[tuple[str | None, Decimal | None]]) -> list[dict[str, Any]] | None:
    """``LineQuantity`` items for the pairs with a line id and a whole quantity of at least one."""
    lines = []
    for line_id, quantity in pairs:
        count = whole(quantity)
        if line_id and count:
            lines.append({"line_id": line_id, "quantity": count})
    return lines or None
