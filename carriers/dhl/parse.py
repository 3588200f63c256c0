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

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.build import Proof
from carriers.code_tables import unmapped
from carriers.dhl import codes
from carriers.dhl.schema import ProblemDetails, Shipment, TrackingEvent, TrackingResponse
from carriers.places import place
from carriers.times import parse_date, parse_offset, unreadable_time
from carriers.tracking_feed import Shape, TrackingFeed, valid_items
from carriers.values import text
from wismo.payloads import Place
from wismo.vocab import Reason, TrackingStatus

#: A DHL event time without an offset is read as UTC (see the module docstring).
FEED = TrackingFeed("dhl", carrier="dhl", naive_tz=UTC)


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    return FEED.parse(raw, received_at, SHAPES, "a DHL tracking response (shipments)")


def _response(response: TrackingResponse, _: str, received_at: datetime, out: Collector) -> None:
    for s, shipment in enumerate(response.shipments):
        path = f"shipments[{s}]"
        number = text(shipment.id) or text(shipment.shipmentTrackingNumber)
        if number is None:
            out.note(Problem(ProblemCode.INVALID, "shipment without tracking number", path))
            continue
        _shipment(number, shipment, path, received_at, out)


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
    return status, reason, raw, unmapped("DHL code", raw, status, path)


def _instant(event: TrackingEvent) -> datetime | None:
    if event.timestamp:
        return FEED.instant(event.timestamp)
    if event.date and event.time:
        return FEED.instant(
            f"{event.date.strip()}T{event.time.strip()}", parse_offset(event.GMTOffset)
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


def _proof(shipment: Shipment) -> Proof | None:
    """The shipment's proof of delivery: the signer's name, the POD document (else the
    signature) link."""
    pod = shipment.details.proofOfDelivery if shipment.details else None
    if pod is None:
        return None
    signer = pod.signed
    named = " ".join(p for p in (signer.givenName, signer.familyName) if p) if signer else ""
    return Proof(
        signed_by=(signer.name if signer else None) or named or None,
        url=pod.documentUrl or pod.signatureUrl,
    )


def _shipment(
    number: str,
    shipment: Shipment,
    path: str,
    received_at: datetime,
    out: Collector,
) -> None:
    parcel = FEED.parcel(out, number, received_at)
    proof = _proof(shipment)
    delivered = False
    for where, event in valid_items(out, shipment.events, TrackingEvent, f"{path}.events"):
        occurred_at = _instant(event)
        if occurred_at is None:
            out.note(unreadable_time(event.timestamp or event.date, where))
            continue
        status, reason, raw_code, problem = classify(event, where)
        delivered = delivered or status is TrackingStatus.DELIVERED
        out.note(problem)
        message = event.description or event.status
        mapped = (status, reason)
        parcel.scan(where, occurred_at, mapped, raw_code, message, _location(event), proof=proof)
    frame = shipment.estimatedDeliveryTimeFrame
    estimated = (
        parse_date(shipment.estimatedTimeOfDelivery)
        or parse_date(shipment.estimatedDeliveryDate)
        or parse_date(frame.estimatedThrough if frame else None)
    )
    if estimated is None or delivered:
        return
    if frame is None:
        parcel.estimate(path, estimated)
    else:
        window = (FEED.instant(frame.estimatedFrom), FEED.instant(frame.estimatedThrough))
        parcel.estimate(path, estimated, window=window)


def _problem_details(body: ProblemDetails, _: str, received_at: datetime, out: Collector) -> None:
    out.note(Problem(ProblemCode.UNSUPPORTED, f"DHL {body.status}: {body.title}: {body.detail}"))


SHAPES = (
    Shape(frozenset({"shipments"}), TrackingResponse, _response),
    Shape(frozenset({"title", "detail"}), ProblemDetails, _problem_details),
)
