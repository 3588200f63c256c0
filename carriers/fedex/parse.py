"""FedEx Track API responses and tracking webhook pushes → canonical tracking events.

Times: scan timestamps carry the scan's UTC offset; one without an offset is read as UTC
(documented convention). Estimated delivery: the ``ESTIMATED_DELIVERY`` date, else the end of
``estimatedDeliveryTimeWindow``, becomes an ``edd.revised`` event (with that window) stated at
the newest scan's instant, or at receipt when there is none; delivered results get none.
``transactionId`` identifies the delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from pydantic import ValidationError

from carriers.base import Headers, ParseResult, Problem, ProblemCode, failed
from carriers.common import (
    Collector,
    built,
    checkpoint_event,
    edd_event,
    load_json,
    parse_date,
    parse_timestamp,
    place,
    text,
    unreadable_time,
    validate_item,
    validation_problem,
)
from carriers.fedex import codes
from carriers.fedex.schema import ScanEvent, TrackResponse, TrackResult
from wismo.vocab import Reason, TrackingStatus

SOURCE = "fedex"
CARRIER = "fedex"
#: A scan time FedEx gives without an offset is read as UTC (see the module docstring).
NAIVE_TZ = UTC


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    data, problem = load_json(raw)
    if problem is not None:
        return ParseResult(problems=(problem,))
    if not isinstance(data, dict) or not ({"output", "errors"} & data.keys()):
        return failed(ProblemCode.MALFORMED, "expected a FedEx track response (output or errors)")
    try:
        response = TrackResponse.model_validate(data)
    except ValidationError as error:
        return ParseResult(problems=(validation_problem(error),))
    out = Collector()
    for e in response.errors:
        out.note(Problem(ProblemCode.UNSUPPORTED, f"FedEx error {e.code}: {e.message}", "errors"))
    output = response.output
    for c, complete in enumerate(output.completeTrackResults if output else []):
        for r, result in enumerate(complete.trackResults):
            path = f"output.completeTrackResults[{c}].trackResults[{r}]"
            info = result.trackingNumberInfo
            number = (info.trackingNumber if info else None) or complete.trackingNumber
            if result.error is not None and not result.scanEvents:
                out.note(
                    Problem(
                        ProblemCode.UNSUPPORTED,
                        f"FedEx {result.error.code}: {result.error.message}",
                        path,
                    )
                )
            elif not number:
                out.note(Problem(ProblemCode.INVALID, "no tracking number", path))
            else:
                _result(number, result, path, received_at, out)
    return out.result(text(response.transactionId))


def classify(
    scan: ScanEvent, path: str
) -> tuple[TrackingStatus, Reason | None, str | None, Problem | None]:
    """(status, reason, raw code, unmapped problem) of one scan event."""
    event_type, exception = text(scan.eventType), text(scan.exceptionCode)
    raw = "/".join(part for part in (event_type, exception) if part) or None
    phrase = _phrase(scan.exceptionDescription)
    if exception is not None and exception in codes.EXCEPTION_CODES:
        status, reason = codes.EXCEPTION_CODES[exception]
        return status, reason, raw, None
    mapped = codes.EVENT_TYPES.get(event_type or "")
    unmapped = exception if mapped is not None else event_type
    if mapped is None:
        mapped = codes.EVENT_TYPES.get(text(scan.derivedStatusCode) or "")
    status, reason = mapped or (TrackingStatus.UNKNOWN, None)
    reason = phrase or reason
    if unmapped is None and mapped is not None:
        return status, reason, raw, None
    problem = Problem(
        ProblemCode.UNMAPPED_CODE,
        f"no mapping for FedEx code {raw or '(none)'!r}; kept as {status}",
        path,
        raw_code=raw,
    )
    return status, reason, raw, problem


def _phrase(description: str | None) -> Reason | None:
    lowered = (description or "").lower()
    return next((r for words, r in codes.EXCEPTION_PHRASES if lowered and words in lowered), None)


def _delivered_where(scan: ScanEvent, result: TrackResult) -> Reason | None:
    if scan.locationType in codes.PICKUP_LOCATION_TYPES:
        return Reason.DELIVERED_PICKED_UP
    details = result.deliveryDetails
    wording = ((details.locationDescription if details else None) or "").lower()
    return next((r for words, r in codes.DELIVERY_PLACES if wording and words in wording), None)


def _result(
    number: str,
    result: TrackResult,
    path: str,
    received_at: datetime,
    out: Collector,
) -> None:
    newest: datetime | None = None
    for s, item in enumerate(result.scanEvents):
        where = f"{path}.scanEvents[{s}]"
        scan, problem = validate_item(item, ScanEvent, where)
        if scan is None:
            out.note(problem)
            continue
        occurred_at = parse_timestamp(scan.date, NAIVE_TZ)
        if occurred_at is None:
            out.note(unreadable_time(scan.date, where))
            continue
        newest = max(newest or occurred_at, occurred_at)
        status, reason, raw_code, problem = classify(scan, where)
        if status is TrackingStatus.DELIVERED and reason is None:
            reason = _delivered_where(scan, result)
        if problem is not None:
            out.note(problem)
        loc = scan.scanLocation
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
                    message=" - ".join(
                        part for part in (scan.eventDescription, scan.exceptionDescription) if part
                    ),
                    location=place(
                        city=loc.city,
                        region=loc.stateOrProvinceCode,
                        postal_code=loc.postalCode,
                        country=loc.countryCode,
                    )
                    if loc
                    else None,
                    carrier=CARRIER,
                    estimated_delivery=None,
                    received_at=received_at,
                ),
                where,
            )
        )
    _estimate(number, result, path, newest or received_at, received_at, out)


def _estimate(
    number: str,
    result: TrackResult,
    path: str,
    stated_at: datetime,
    received_at: datetime,
    out: Collector,
) -> None:
    stamps = {d.type: d.dateTime for d in result.dateAndTimes if d.type}
    if stamps.get("ACTUAL_DELIVERY"):
        return
    window = result.estimatedDeliveryTimeWindow
    bounds = window.window if window else None
    start = parse_timestamp(bounds.begins, NAIVE_TZ) if bounds else None
    end = parse_timestamp(bounds.ends, NAIVE_TZ) if bounds else None
    estimated = parse_date(stamps.get("ESTIMATED_DELIVERY")) or parse_date(
        bounds.ends if bounds else None
    )
    if estimated is None:
        return
    out.add(
        built(
            partial(
                edd_event,
                SOURCE,
                tracking_number=number,
                estimated_delivery=estimated,
                occurred_at=stated_at,
                received_at=received_at,
                carrier=CARRIER,
                window_start=start,
                window_end=end,
            ),
            path,
        )
    )
