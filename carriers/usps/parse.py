"""USPS Tracking v3 responses and tracking subscription notifications → canonical events.

Times: ``GMTTimestamp`` when given, else ``eventTimestamp`` read with ``GMTOffset`` (or its own
offset); a local time with neither is read as UTC (documented convention).
Estimated delivery: ``expectedDeliveryDate`` (or ``expectedDeliveryTimeStamp``, else
``predictedDeliveryDate``) becomes an ``edd.revised`` event stated at the newest scan's instant,
or at receipt when there is none; delivered pieces get none.
"""

from __future__ import annotations

from datetime import UTC, datetime

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.build import Proof
from carriers.code_tables import unmapped
from carriers.places import place
from carriers.times import parse_date, parse_offset, unreadable_time
from carriers.tracking_feed import Shape, TrackingFeed, valid_items
from carriers.usps import codes
from carriers.usps.schema import ErrorMessage, TrackingDetails, TrackingEvent
from carriers.values import text
from wismo.vocab import Reason, TrackingStatus

#: A local scan time USPS gives with no offset at all is read as UTC (see the docstring).
FEED = TrackingFeed("usps", carrier="usps", naive_tz=UTC)


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    expected = "USPS tracking details (or a list of them)"
    return FEED.parse(raw, received_at, (ERROR, DETAILS), expected, listed=DETAILS)


def classify(
    event: TrackingEvent, path: str
) -> tuple[TrackingStatus, Reason | None, Problem | None]:
    """(status, reason, unmapped problem) of one scan."""
    code = text(event.eventCode)
    if code is None or code not in codes.EVENT_CODES:
        kept = TrackingStatus.UNKNOWN
        return kept, None, unmapped("USPS event code", code, kept, path)
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
    return FEED.instant(event.GMTTimestamp, UTC) or FEED.instant(
        event.eventTimestamp, parse_offset(event.GMTOffset)
    )


def _piece(details: TrackingDetails, path: str, received_at: datetime, out: Collector) -> None:
    number = text(details.trackingNumber)
    if number is None:
        out.note(Problem(ProblemCode.INVALID, "no trackingNumber", path or None))
        return
    parcel = FEED.parcel(out, number, received_at)
    final = False
    scans = f"{path}.trackingEvents"
    for where, event in valid_items(out, details.trackingEvents, TrackingEvent, scans):
        occurred_at = _instant(event)
        if occurred_at is None:
            out.note(unreadable_time(event.eventTimestamp, where))
            continue
        code = text(event.eventCode)
        final = final or code in codes.FINAL_CODES
        status, reason, problem = classify(event, where)
        out.note(problem)
        location = place(
            city=event.eventCity,
            region=event.eventState,
            postal_code=event.eventZIP or event.eventZIPCode,
            # domestic scans leave the country blank
            country=event.eventCountry or ("US" if event.eventState else None),
        )
        proof = Proof(signed_by=text(event.name) or text(event.firm))
        mapped = (status, reason)
        parcel.scan(where, occurred_at, mapped, code, event.eventType, location, proof=proof)
    estimated = (
        parse_date(details.expectedDeliveryDate)
        or parse_date(details.expectedDeliveryTimeStamp)
        or parse_date(details.predictedDeliveryDate)
    )
    if estimated is None or final:
        return
    parcel.estimate(path, estimated)


def _error(response: ErrorMessage, _: str, received_at: datetime, out: Collector) -> None:
    detail = response.error
    out.note(
        Problem(ProblemCode.UNSUPPORTED, f"USPS error {detail.code}: {detail.message}", "error")
    )


ERROR = Shape(frozenset({"error"}), ErrorMessage, _error)
DETAILS = Shape(frozenset({"trackingNumber", "trackingEvents"}), TrackingDetails, _piece)
