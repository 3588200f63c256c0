"""USPS Tracking v3 responses and tracking subscription notifications → canonical events.

Times: ``GMTTimestamp`` when given, else ``eventTimestamp`` read with ``GMTOffset`` (or its own
offset); a local time with neither is read as UTC (documented convention).
Estimated delivery: ``expectedDeliveryDate`` (or ``expectedDeliveryTimeStamp``, else
``predictedDeliveryDate``) becomes an ``edd.revised`` event stated at the newest scan's instant,
or at receipt when there is none; delivered pieces get none.
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
from carriers.usps import codes
from carriers.usps.schema import ErrorMessage, TrackingDetails, TrackingEvent
from wismo.vocab import Reason, TrackingStatus

SOURCE = "usps"
CARRIER = "usps"
#: A local scan time USPS gives with no offset at all is read as UTC (see the docstring).
NAIVE_TZ = UTC


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    data, problem = load_json(raw)
    if problem is not None:
        return ParseResult(problems=(problem,))
    if isinstance(data, dict) and "error" in data:
        return _error(data)
    pieces = data if isinstance(data, list) else [data]
    if not pieces or not all(
        isinstance(p, dict) and ({"trackingNumber", "trackingEvents"} & p.keys()) for p in pieces
    ):
        return failed(ProblemCode.MALFORMED, "expected USPS tracking details (or a list of them)")
    out = Collector()
    for index, piece in enumerate(pieces):
        path = f"[{index}]" if isinstance(data, list) else ""
        try:
            details = TrackingDetails.model_validate(piece)
        except ValidationError as error:
            out.note(validation_problem(error, path or None))
            continue
        _piece(details, path, received_at, out)
    return out.result()


def classify(
    event: TrackingEvent, path: str
) -> tuple[TrackingStatus, Reason | None, Problem | None]:
    """(status, reason, unmapped problem) of one scan."""
    code = text(event.eventCode)
    if code is None or code not in codes.EVENT_CODES:
        problem = Problem(
            ProblemCode.UNMAPPED_CODE,
            f"no mapping for USPS event code {code or '(none)'!r}; kept as unknown",
            path,
            raw_code=code,
        )
        return TrackingStatus.UNKNOWN, None, problem
    status, reason = codes.EVENT_CODES[code]
    if status is TrackingStatus.DELIVERED and reason is None:
        wording = (event.eventType or "").lower()
        place_found = next(
            ((s, r) for words, s, r in codes.DELIVERY_PLACES if words in wording), None
        )
        if place_found is not None:
            status, reason = place_found
    return status, reason, None


def _instant(event: TrackingEvent) -> datetime | None:
    return parse_timestamp(event.GMTTimestamp, UTC) or parse_timestamp(
        event.eventTimestamp, parse_offset(event.GMTOffset) or NAIVE_TZ
    )


def _piece(
    details: TrackingDetails,
    path: str,
    received_at: datetime,
    out: Collector,
) -> None:
    number = text(details.trackingNumber)
    if number is None:
        out.note(Problem(ProblemCode.INVALID, "no trackingNumber", path or None))
        return
    newest: datetime | None = None
    final = False
    for e, item in enumerate(details.trackingEvents):
        where = f"{path}.trackingEvents[{e}]".lstrip(".")
        event, problem = validate_item(item, TrackingEvent, where)
        if event is None:
            out.note(problem)
            continue
        occurred_at = _instant(event)
        if occurred_at is None:
            out.note(unreadable_time(event.eventTimestamp, where))
            continue
        newest = max(newest or occurred_at, occurred_at)
        final = final or text(event.eventCode) in codes.FINAL_CODES
        status, reason, problem = classify(event, where)
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
                    raw_code=text(event.eventCode),
                    message=event.eventType,
                    location=place(
                        city=event.eventCity,
                        region=event.eventState,
                        postal_code=event.eventZIP or event.eventZIPCode,
                        # domestic scans leave the country blank
                        country=event.eventCountry or ("US" if event.eventState else None),
                    ),
                    carrier=CARRIER,
                    estimated_delivery=None,
                    received_at=received_at,
                ),
                where,
            )
        )
    estimated = (
        parse_date(details.expectedDeliveryDate)
        or parse_date(details.expectedDeliveryTimeStamp)
        or parse_date(details.predictedDeliveryDate)
    )
    if estimated is None or final:
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
            ),
            path,
        )
    )


def _error(data: dict[str, Any]) -> ParseResult:
    try:
        response = ErrorMessage.model_validate(data)
    except ValidationError as error:
        return ParseResult(problems=(validation_problem(error),))
    detail = response.error
    return failed(ProblemCode.UNSUPPORTED, f"USPS error {detail.code}: {detail.message}", "error")
