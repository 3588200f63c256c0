"""Rows for the ClickHouse tables, from events and timeline documents. No I/O.

Facts are derived from a timeline's JSON form (what a :class:`~projections.store.TimelineChange`
carries), so the warehouse needs nothing but the change to write them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson

from projections.sla_facts import SLA_COLUMNS, sla_columns
from projections.store import TimelineChange
from wismo.events import Event, dump_event, tracking_numbers_named

EVENT_COLUMNS = (
    "event_id", "kind", "source", "order_id", "tracking_number", "links", "occurred_at",
    "received_at", "raw_ref", "event_json", "linked",
)  # fmt: skip
TIMELINE_COLUMNS = ("order_id", "version", "digest", "status", "timeline_json", "brand", "fold")
SHIPMENT_COLUMNS = (
    "order_id", "shipment_id", "tracking_number", "carrier", "service", "channel",
    "sales_channel", "origin_country", "origin_region", "origin_city", "destination_country",
    "destination_region", "destination_city", "status", "reason", "placed_at", "promised_date",
    "carrier_edd_first", "carrier_edd_last", "shipped_at", "first_scan_at", "out_for_delivery_at",
    "first_attempt_at", "delivered_at", "returned_at", "failed_attempts", "exceptions_total",
    "exceptions_open", "version", *SLA_COLUMNS, "brand",
)  # fmt: skip
EXCEPTION_COLUMNS = (
    "order_id", "exception_id", "type", "severity", "owner", "subject", "reason", "state",
    "message", "opened_at", "acknowledged_at", "resolved_at", "version", "acknowledged_by",
    "resolved_by", "automatic_resolution", "assignee", "escalated_at", "case_number", "problem",
    "brand",
)  # fmt: skip

Row = tuple[Any, ...]


def event_row(event: Event) -> Row:
    return (
        event.event_id,
        event.kind.value,
        event.source,
        event.order_id or "",
        event.tracking_number or "",
        tracking_numbers_named(event),
        event.occurred_at,
        event.received_at,
        event.raw_ref or "",
        dump_event(event).decode(),
        int(event.order_id is not None),
    )


def brand(document: dict[str, Any]) -> str:
    """The order's brand as the fact tables hold it: ``''`` for an unbranded order."""
    return str(document.get("brand") or "")


def timeline_row(change: TimelineChange, document: dict[str, Any]) -> Row:
    return (
        change.order_id,
        change.version,
        change.digest,
        change.status,
        change.timeline.decode(),
        brand(document),
        change.fold,
    )


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _place(place: dict[str, Any] | None) -> tuple[str, str, str]:
    place = place or {}
    return place.get("country") or "", place.get("region") or "", place.get("city") or ""


def _promise(document: dict[str, Any], shipment: dict[str, Any]) -> date | None:
    return _day(shipment.get("promised_delivery_date") or document.get("promised_delivery_date"))


def shipment_rows(document: dict[str, Any]) -> list[Row]:
    rows = []
    exceptions = document.get("exceptions", ())
    for s in document.get("shipments", ()):
        subjects = {s["shipment_id"], s.get("tracking_number")} - {None}
        mine = [e for e in exceptions if e.get("subject") in subjects]
        edds = s.get("edd_history") or ()
        rows.append(
            (
                document["order_id"],
                s["shipment_id"],
                s.get("tracking_number") or "",
                s.get("carrier") or "",
                s.get("service") or "",
                document.get("channel") or "",
                document.get("sales_channel") or "",
                *_place(s.get("origin")),
                *_place(s.get("destination")),
                s.get("status") or "",
                s.get("reason") or "",
                _instant(document.get("placed_at")),
                _promise(document, s),
                _day(s.get("carrier_edd_first")),
                _day(
                    s.get("estimated_delivery")
                    or (edds[-1]["estimated_delivery"] if edds else None)
                ),
                _instant(s.get("shipped_at")),
                _instant(s.get("first_scan_at")),
                _instant(s.get("out_for_delivery_at")),
                _instant(s.get("first_attempt_at")),
                _instant(s.get("delivered_at")),
                _instant(s.get("returned_at")),
                s.get("failed_attempts", 0),
                len(mine),
                sum(1 for e in mine if e.get("state") != "resolved"),
                document["version"],
                *sla_columns(document, s),
                brand(document),
            )
        )
    return rows


def exception_rows(document: dict[str, Any]) -> list[Row]:
    return [
        (
            document["order_id"],
            e["exception_id"],
            e.get("type") or "",
            e.get("severity") or "",
            e.get("owner") or "",
            e.get("subject") or "",
            e.get("reason") or "",
            e.get("state") or "",
            e.get("message") or "",
            _instant(e.get("opened_at")),
            _instant(e.get("acknowledged_at")),
            _instant(e.get("resolved_at")),
            document["version"],
            e.get("acknowledged_by") or "",
            e.get("resolved_by") or "",
            int(bool(e.get("automatic_resolution"))),
            e.get("assignee") or "",
            _instant(e.get("escalated_at")),
            (e.get("case") or {}).get("case_number") or "",
            e.get("problem") or "",
            brand(document),
        )
        for e in document.get("exceptions", ())
    ]


def change_rows(changes: Sequence[TimelineChange]) -> dict[str, list[Row]]:
    """Table → rows for a set of timeline changes."""
    tables: dict[str, list[Row]] = {"timelines": [], "shipments": [], "exceptions": []}
    for change in changes:
        document = orjson.loads(change.timeline)
        tables["timelines"].append(timeline_row(change, document))
        tables["shipments"] += shipment_rows(document)
        tables["exceptions"] += exception_rows(document)
    return tables
