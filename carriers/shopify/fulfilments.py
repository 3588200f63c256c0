"""Shopify fulfilments and fulfilment events → shipments and tracking checkpoints.

A fulfilment in state ``success`` is a shipment (``fulfilment.shipped``), one package per
tracking number, plus a checkpoint for its ``shipment_status``; a ``cancelled`` one also gets a
``retailer_label_cancelled`` checkpoint. ``pending``/``open`` fulfilments (a request still with a
fulfilment service) and failed ones shipped nothing.

A fulfilment event names its fulfilment, not a tracking number. Its checkpoint goes to the
tracking numbers the body carries (wismo's poller adds them), else to the fulfilment's own parcel
key ``SHOPIFY-F<id>``, the package that a fulfilment *without* tracking numbers (local delivery,
untracked post) gets, so Shopify's events still move such a shipment.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from carriers.base import Collector, Problem, ProblemCode
from carriers.build import built, checkpoint_event
from carriers.code_tables import map_code
from carriers.decode import validate_item
from carriers.detect import carrier_slug, detect_carrier
from carriers.places import place
from carriers.shopify import codes
from carriers.shopify.build import SOURCE_NAME, instant, positive_lines, shopify_event
from carriers.shopify.schema import Address, Fulfillment, FulfillmentEvent
from carriers.times import parse_date
from carriers.values import tracking_number
from wismo.events import EventKind
from wismo.payloads import Place

SHIPPED_STATES = frozenset({"success", "cancelled"})


def parcel_key(fulfilment_id: str) -> str:
    """The package key of a fulfilment that has no tracking number of its own."""
    return f"SHOPIFY-F{fulfilment_id}"


def _numbers(*candidates: list[str] | str | None) -> list[str]:
    numbers: list[str] = []
    for candidate in candidates:
        values = [candidate] if isinstance(candidate, str) else candidate or []
        numbers += [number for number in map(tracking_number, values) if number]
    return list(dict.fromkeys(numbers))


def _carrier(company: str | None, numbers: list[str]) -> str | None:
    return carrier_slug(company) or next(filter(None, map(detect_carrier, numbers)), None)


def _place(address: Address | None) -> Place | None:
    if address is None:
        return None
    return place(city=address.city, postal_code=address.zip, country=address.country_code)


def add_fulfilment(
    collected: Collector, item: Any, order_id: str | None, received_at: datetime, path: str
) -> None:
    """The events of one fulfilment (a ``fulfillments/*`` body or an order's ``fulfillments``)."""
    fulfilment, problem = validate_item(item, Fulfillment, path or None)
    if fulfilment is None:
        collected.note(problem)
        return
    where = f"{path}." if path else ""
    order_id = fulfilment.order_id or order_id
    if order_id is None:
        collected.note(Problem(ProblemCode.INVALID, "missing order_id", f"{where}order_id"))
        return
    if fulfilment.status not in SHIPPED_STATES:
        collected.note(
            Problem(
                ProblemCode.UNSUPPORTED,
                f"fulfillment {fulfilment.id} is {fulfilment.status!r}: nothing shipped yet",
                f"{where}status",
            )
        )
        return
    shipped_at = instant(fulfilment.created_at)
    updated_at = instant(fulfilment.updated_at) or shipped_at
    if updated_at is None:
        collected.note(Problem(ProblemCode.INVALID, "missing updated_at", f"{where}updated_at"))
        return
    numbers = _numbers(fulfilment.tracking_numbers, fulfilment.tracking_number)
    carrier = _carrier(fulfilment.tracking_company, numbers)
    parcels = numbers or [parcel_key(fulfilment.id)]
    payload = {
        "shipment_id": fulfilment.id,
        "carrier": carrier,
        "tracking_number": parcels[0],
        "tracking_url": next(iter(fulfilment.tracking_urls or ()), fulfilment.tracking_url),
        "packages": [{"tracking_number": number} for number in parcels],
        "lines": positive_lines([(li.id, li.quantity) for li in fulfilment.line_items or ()]),
        "shipped_at": shipped_at,
        "origin": _place(fulfilment.origin_address),
        "destination": _place(fulfilment.destination),
    }
    collected.add(
        built(
            lambda: shopify_event(
                EventKind.FULFILMENT_SHIPPED,
                (fulfilment.id, updated_at),
                order_id=order_id,
                occurred_at=updated_at,
                received_at=received_at,
                payload=payload,
            ),
            path,
        )
    )
    if fulfilment.status == "cancelled":
        status, reason = codes.CANCELLED_FULFILMENT
        raw_code: str | None = "fulfillment_cancelled"
    elif fulfilment.shipment_status is not None:
        raw_code = fulfilment.shipment_status
        status, reason, unmapped = map_code(
            codes.SHIPMENT_STATUSES, raw_code, path=f"{where}shipment_status"
        )
        collected.note(unmapped)
    else:
        return
    _add_checkpoints(
        collected,
        parcels,
        path,
        occurred_at=updated_at,
        status=status,
        reason=reason,
        raw_code=raw_code,
        message=None,
        location=None,
        carrier=carrier,
        estimated_delivery=None,
        received_at=received_at,
        order_id=order_id,
    )


def fulfilment_event_events(body: Any, received_at: datetime) -> Collector:
    """The checkpoint(s) of one ``fulfillment_events/create`` body."""
    collected = Collector()
    event, problem = validate_item(body, FulfillmentEvent, None)
    if event is None:
        collected.note(problem)
        return collected
    if event.order_id is None:
        collected.note(Problem(ProblemCode.INVALID, "missing order_id", "order_id"))
        return collected
    happened_at = instant(event.happened_at) or instant(event.created_at)
    if happened_at is None:
        shown = event.happened_at
        collected.note(Problem(ProblemCode.INVALID, f"unreadable time {shown!r}", "happened_at"))
        return collected
    status, reason, unmapped = map_code(codes.SHIPMENT_STATUSES, event.status, path="status")
    collected.note(unmapped)
    numbers = _numbers(event.tracking_numbers, event.tracking_number)
    carrier = _carrier(event.tracking_company, numbers)
    location = place(
        city=event.city, region=event.province, postal_code=event.zip, country=event.country
    )
    _add_checkpoints(
        collected,
        numbers or [parcel_key(event.fulfillment_id)],
        "",
        occurred_at=happened_at,
        status=status,
        reason=reason,
        raw_code=event.status,
        message=event.message,
        location=location,
        carrier=carrier,
        estimated_delivery=parse_date(event.estimated_delivery_at),
        received_at=received_at,
        order_id=event.order_id,
    )
    return collected


def _add_checkpoints(collected: Collector, numbers: list[str], path: str, **fields: Any) -> None:
    """The same scan on every parcel of a fulfilment."""
    for number in numbers:
        make = partial(checkpoint_event, SOURCE_NAME, tracking_number=number, **fields)
        collected.add(built(make, path))
