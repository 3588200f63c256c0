"""DHL Unified tracking (pull and push) and MyDHL Express tracking → canonical events.

Times: a Unified ``timestamp`` with an offset is used as is; MyDHL's ``date`` + ``time`` are read
with ``GMTOffset``; a local time with no offset is read as UTC (documented convention).
Estimated delivery: ``estimatedTimeOfDelivery`` (or MyDHL's ``estimatedDeliveryDate``, else the
end of ``estimatedDeliveryTimeFrame``) becomes an ``edd.revised`` event with that time frame,
stated at the newest event's instant, or at receipt when there is none; delivered shipments get
none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import ValidationError

from carriers.base import Headers, ParseResult, Problem, ProblemCode, failed
from carriers.common import (
    Collector,
    built,
    checkpoint_event,
    edd_event,
    load_json,
    parse_date,
    parse_offset,
    parse_timestamp,
    place,
    text,
    unreadable_time,
    validate_item,
    validation_problem,
)
from carriers.dhl import codes
from carriers.dhl.schema import ProblemDetails, Shipment, TrackingEvent, TrackingResponse
from wismo.payloads import Place
from wismo.vocab import Reason, TrackingStatus

SOURCE = "dhl"
CARRIER = "dhl"
#: A DHL event time without an offset is read as UTC (see the module docstring).
NAIVE_TZ = UTC


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    data, problem = load_json(raw)
    if problem is not None:
        return ParseResult(problems=(problem,))
    if not isinstance(data, dict):
        return failed(ProblemCode.MALFORMED, "expected a JSON object")
    if "shipments" not in data:
        if "title" in data or "detail" in data:
            return _problem_details(data)
        return failed(ProblemCode.MALFORMED, "expected a DHL tracking response (shipments)")
    try:
        response = TrackingResponse.model_validate(data)
    except ValidationError as error:
        return ParseResult(problems=(validation_problem(error),))
    out = Collector()
    for s, shipment in enumerate(response.shipments):
        path = f"shipments[{s}]"
        number = text(shipment.id) or text(shipment.shipmentTrackingNumber)
        if number is None:
            out.note(Problem(ProblemCode.INVALID, "shipment without tracking number", path))
            continue
        _shipment(number, shipment, path, received_at, out)
    return out.result()


def classify(
    event: TrackingEvent, path: str
) -> tuple[TrackingStatus, Reason | None, str | None, Problem | None]:
    """(status, reason, raw code, unmapped problem) of one event."""
    code = text(event.typeCode)
    family = (text(event.statusCode) or "").lower() or None
    if code is not None and code in codes.EXPRESS_CODES:
        status, reason = codes.EXPRESS_CODES[code]
        return status, reason, code, None
    wording = " ".join(part for part in (event.description, event.status) if part).lower()
    phrase = next(((s, r) for words, s, r in codes.PHRASES if words in wording), None)
    known_family = codes.FAMILIES.get(family or "")
    status, reason = phrase or known_family or (TrackingStatus.UNKNOWN, None)
    raw = code or family
    if code is None and known_family is not None:
        return status, reason, raw, None
    problem = Problem(
        ProblemCode.UNMAPPED_CODE,
        f"no mapping for DHL code {raw or '(none)'!r}; kept as {status}",
        path,
        raw_code=raw,
    )
    return status, reason, raw, problem


def _instant(event: TrackingEvent) -> datetime | None:
    if event.timestamp:
        return parse_timestamp(event.timestamp, NAIVE_TZ)
    if event.date and event.time:
        return parse_timestamp(
            f"{event.date.strip()}T{event.time.strip()}", parse_offset(event.GMTOffset) or NAIVE_TZ
        )
    return None


def _location(event: TrackingEvent) -> Place | None:
    address = event.location.address if event.location else None
    area = event.serviceArea[0] if event.serviceArea else None
    return place(
        city=(address.addressLocality if address else None) or (area.description if area else None),
        postal_code=address.postalCode if address else None,
        country=address.countryCode if address else None,
        facility=area.code if area else None,
    )


def _shipment(
    number: str,
    shipment: Shipment,
    path: str,
    received_at: datetime,
    out: Collector,
) -> None:
    newest: datetime | None = None
    delivered = False
    for e, item in enumerate(shipment.events):
        where = f"{path}.events[{e}]"
        event, problem = validate_item(item, TrackingEvent, where)
        if event is None:
            out.note(problem)
            continue
        occurred_at = _instant(event)
        if occurred_at is None:
            out.note(unreadable_time(event.timestamp or event.date, where))
            continue
        newest = max(newest or occurred_at, occurred_at)
        status, reason, raw_code, problem = classify(event, where)
        delivered = delivered or status is TrackingStatus.DELIVERED
        if problem is not None:
            out.note(problem)
        out.add(
            built(
                partial(
                    checkpoint_event,
                    SOURCE,
                    tracking_number=number,
                    occurred_at=occurred_at,
                    status=status,
                    reason=reason,
                    raw_code=raw_code,
                    message=event.description or event.status,
                    location=_location(event),
                    carrier=CARRIER,
                    estimated_delivery=None,
                    received_at=received_at,
                ),
                where,
            )
        )
    frame = shipment.estimatedDeliveryTimeFrame
    estimated = (
        parse_date(shipment.estimatedTimeOfDelivery)
        or parse_date(shipment.estimatedDeliveryDate)
        or parse_date(frame.estimatedThrough if frame else None)
    )
    if estimated is None or delivered:
        return
    out.add(
        built(
            partial(
                edd_event,
                SOURCE,
                tracking_number=number,
                estimated_delivery=estimated,
                occurred_at=newest or received_at,
                received_at=received_at,
                carrier=CARRIER,
                window_start=parse_timestamp(frame.estimatedFrom, NAIVE_TZ) if frame else None,
                window_end=parse_timestamp(frame.estimatedThrough, NAIVE_TZ) if frame else None,
            ),
            path,
        )
    )


def _problem_details(data: dict[str, Any]) -> ParseResult:
    try:
        body = ProblemDetails.model_validate(data)
    except ValidationError as error:
        return ParseResult(problems=(validation_problem(error),))
    return failed(ProblemCode.UNSUPPORTED, f"DHL {body.status}: {body.title}: {body.detail}")
