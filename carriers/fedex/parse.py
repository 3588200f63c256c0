"""FedEx Track API responses and tracking webhook pushes → canonical tracking events.

Times: scan timestamps carry the scan's UTC offset; one without an offset is read as UTC
(documented convention). Estimated delivery: the ``ESTIMATED_DELIVERY`` date, else the end of
``estimatedDeliveryTimeWindow``, becomes an ``edd.revised`` event (with that window) stated at
the newest scan's instant, or at receipt when there is none; delivered results get none.
``transactionId`` identifies the delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.build import Proof
from carriers.code_tables import unmapped
from carriers.fedex import codes
from carriers.fedex.schema import ScanEvent, TrackResponse, TrackResult
from carriers.places import place
from carriers.times import parse_date, unreadable_time
from carriers.tracking_feed import Parcel, Shape, TrackingFeed, valid_items
from carriers.values import text
from wismo.payloads import Place
from wismo.vocab import Reason, TrackingStatus

#: A scan time FedEx gives without an offset is read as UTC (see the module docstring).
FEED = TrackingFeed("fedex", carrier="fedex", naive_tz=UTC)


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    expected = "a FedEx track response (output or errors)"
    return FEED.parse(raw, received_at, (RESPONSE,), expected)


def _response(response: TrackResponse, _: str, received_at: datetime, out: Collector) -> None:
    out.delivery_id = text(response.transactionId)
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
    unknown = exception if mapped is not None else event_type
    if mapped is None:
        mapped = codes.EVENT_TYPES.get(text(scan.derivedStatusCode) or "")
    status, reason = mapped or (TrackingStatus.UNKNOWN, None)
    reason = phrase or reason
    if unknown is None and mapped is not None:
        return status, reason, raw, None
    return status, reason, raw, unmapped("FedEx code", raw, status, path)


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
    parcel = FEED.parcel(out, number, received_at)
    details = result.deliveryDetails
    proof = Proof(signed_by=details.receivedByName) if details else None
    for where, scan in valid_items(out, result.scanEvents, ScanEvent, f"{path}.scanEvents"):
        occurred_at = FEED.instant(scan.date)
        if occurred_at is None:
            out.note(unreadable_time(scan.date, where))
            continue
        status, reason, raw_code, problem = classify(scan, where)
        if status is TrackingStatus.DELIVERED and reason is None:
            reason = _delivered_where(scan, result)
        out.note(problem)
        wording = (scan.eventDescription, scan.exceptionDescription)
        message = " - ".join(part for part in wording if part)
        mapped = (status, reason)
        parcel.scan(where, occurred_at, mapped, raw_code, message, _location(scan), proof=proof)
    _estimate(parcel, result, path)


def _location(scan: ScanEvent) -> Place | None:
    loc = scan.scanLocation
    if loc is None:
        return None
    return place(
        city=loc.city,
        region=loc.stateOrProvinceCode,
        postal_code=loc.postalCode,
        country=loc.countryCode,
    )


def _estimate(parcel: Parcel, result: TrackResult, path: str) -> None:
    stamps = {d.type: d.dateTime for d in result.dateAndTimes if d.type}
    if stamps.get("ACTUAL_DELIVERY"):
        return
    window = result.estimatedDeliveryTimeWindow
    bounds = window.window if window else None
    estimated = parse_date(stamps.get("ESTIMATED_DELIVERY")) or parse_date(
        bounds.ends if bounds else None
    )
    if estimated is None:
        return
    if bounds is None:
        parcel.estimate(path, estimated)
    else:
        parcel.estimate(
            path, estimated, window=(FEED.instant(bounds.begins), FEED.instant(bounds.ends))
        )


RESPONSE = Shape(frozenset({"output", "errors"}), TrackResponse, _response)
