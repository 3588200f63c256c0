"""UPS Track API responses and Track Alert webhooks → canonical tracking events.

Times: UPS gives each activity's GMT date and time (used as is) next to the local ones; when only
the local time is there it is read with the activity's ``gmtOffset``, and a local time with no
offset at all is read as UTC (documented convention; UPS sends one of the two in practice).

Estimated delivery: a Track API package's rescheduled (``RDD``) or else scheduled (``SDD``)
delivery date, and a Track Alert's ``scheduledDeliveryDate``, become ``edd.revised`` events
stated at the newest activity's instant (or at receipt when there is none), so polling the same
state twice yields the same event. Delivered packages get no EDD.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.build import Proof
from carriers.code_tables import unmapped
from carriers.places import place
from carriers.times import parse_date, parse_offset, unreadable_time
from carriers.tracking_feed import Parcel, Shape, TrackingFeed, valid_items
from carriers.ups import codes
from carriers.ups.schema import Activity, ErrorResponse, Package, TrackAlertEvent, TrackApiResponse
from wismo.payloads import Place
from wismo.vocab import Reason, TrackingStatus

#: A local time UPS gives without GMT time or offset is read as UTC (see the module docstring).
FEED = TrackingFeed("ups", carrier="ups", naive_tz=UTC)
_WINDOW_TYPES = frozenset({"EDW", "CDW", "IDW"})


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    expected = "a Track API response or a Track Alert tracking event"
    return FEED.parse(raw, received_at, SHAPES, expected)


# ---------------------------------------------------------------------------------------------
# Codes


def classify(
    type_: str | None,
    code: str | None,
    detail: str | None,
    description: str | None,
    path: str,
) -> tuple[TrackingStatus, Reason | None, str | None, Problem | None]:
    """(status, reason, raw code, unmapped problem) of one UPS activity status."""
    raw = "/".join(part for part in (type_, code, detail) if part) or None
    phrase = _phrase(description)
    mapped = codes.DESCRIPTION_CODES.get(detail or "") or codes.ACTIVITY_CODES.get(code or "")
    if mapped is not None:
        status, reason = mapped
        # an exception's wording is more specific than its code ("address required" vs why)
        if phrase is not None and (type_ == "X" or reason is None):
            reason = phrase[1]
        return status, reason, raw, None
    family, family_reason = codes.TYPE_FAMILY.get(type_ or "", (TrackingStatus.UNKNOWN, None))
    status, reason = phrase if phrase and type_ == "X" else (family, family_reason)
    problem = unmapped("UPS status", raw, status, path)
    return status, reason or (phrase[1] if phrase else None), raw, problem


def _phrase(description: str | None) -> tuple[TrackingStatus, Reason] | None:
    if not description:
        return None
    lowered = description.lower()
    return next(
        ((status, reason) for words, status, reason in codes.EXCEPTION_PHRASES if words in lowered),
        None,
    )


# ---------------------------------------------------------------------------------------------
# Time


def _instant(day: str | None, clock: str | None, tz: tzinfo) -> datetime | None:
    """``YYYYMMDD`` + ``HHMMSS`` (leading zero optional) in ``tz``."""
    if not day or not clock:
        return None
    day, clock = day.strip(), clock.strip().zfill(6)
    if len(day) != 8 or len(clock) != 6 or not (day + clock).isdigit():
        return None
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}T{clock[:2]}:{clock[2:4]}:{clock[4:]}"
    return FEED.instant(iso, tz)


def _activity_instant(activity: Activity) -> datetime | None:
    return _instant(activity.gmtDate, activity.gmtTime, UTC) or _instant(
        activity.date, activity.time, parse_offset(activity.gmtOffset) or FEED.naive_tz
    )


def _window(
    day: date, start: str | None, end: str | None, tz: tzinfo | None
) -> tuple[datetime | None, datetime | None]:
    if tz is None:
        return None, None
    compact = day.strftime("%Y%m%d")
    return _instant(compact, start, tz), _instant(compact, end, tz)


# ---------------------------------------------------------------------------------------------
# Track API


def _track_response(
    response: TrackApiResponse, _: str, received_at: datetime, out: Collector
) -> None:
    for s, shipment in enumerate(response.trackResponse.shipment):
        base = f"trackResponse.shipment[{s}]"
        for warning in shipment.warnings:
            message = f"UPS warning {warning.code}: {warning.message}"
            out.note(Problem(ProblemCode.UNSUPPORTED, message, base))
        for p, package in enumerate(shipment.package):
            number = package.trackingNumber or shipment.inquiryNumber
            path = f"{base}.package[{p}]"
            if not number:
                out.note(Problem(ProblemCode.INVALID, "package without tracking number", path))
                continue
            _package(number, package, path, received_at, out)


def _package(
    number: str,
    package: Package,
    path: str,
    received_at: datetime,
    out: Collector,
) -> None:
    parcel = FEED.parcel(out, number, received_at)
    left_at = _left_at(package)
    information = package.deliveryInformation
    proof = Proof(signed_by=information.receivedBy) if information else None
    instants: list[tuple[datetime, Activity]] = []
    for where, activity in valid_items(out, package.activity, Activity, f"{path}.activity"):
        occurred_at = _activity_instant(activity)
        if occurred_at is None:
            stated = " ".join(part for part in (activity.date, activity.time) if part)
            out.note(unreadable_time(stated, where))
            continue
        instants.append((occurred_at, activity))
        status = activity.status
        status_codes = (
            (status.type, status.code, status.statusCode) if status else (None, None, None)
        )
        description = status.description if status else None
        location = _activity_place(activity)
        _checkpoint(parcel, where, occurred_at, status_codes, description, location, left_at, proof)
    dates = {d.type: parse_date(d.date) for d in package.deliveryDate if d.type}
    estimated = dates.get("RDD") or dates.get("SDD")
    if estimated is None or dates.get("DEL") is not None:
        return
    # the window is in the newest activity's own offset
    newest = max(instants, key=lambda pair: pair[0], default=None)
    tz = parse_offset(newest[1].gmtOffset) if newest else None
    time = package.deliveryTime
    window = (
        _window(estimated, time.startTime, time.endTime, tz)
        if time and time.type in _WINDOW_TYPES
        else (None, None)
    )
    parcel.estimate(path, estimated, window=window)


def _left_at(package: Package) -> Reason | None:
    """Where a delivered package was left, from its ``deliveryInformation.location``."""
    information = package.deliveryInformation
    wording = ((information.location if information else None) or "").lower()
    return next((r for words, r in codes.DELIVERY_PLACES if wording and words in wording), None)


def _activity_place(activity: Activity) -> Place | None:
    address = activity.location.address if activity.location else None
    if address is None:
        return None
    return place(
        city=address.city,
        region=address.stateProvince,
        postal_code=address.postalCode,
        country=address.countryCode or address.country,
    )


def _error_response(response: ErrorResponse, _: str, received_at: datetime, out: Collector) -> None:
    for e in response.response.errors:
        message = f"UPS error {e.code}: {e.message}"
        out.note(Problem(ProblemCode.UNSUPPORTED, message, "response.errors"))
    if not out.problems:
        out.note(Problem(ProblemCode.UNSUPPORTED, "UPS error"))


# ---------------------------------------------------------------------------------------------
# Track Alert


def _track_alert(alert: TrackAlertEvent, _: str, received_at: datetime, out: Collector) -> None:
    number = (alert.trackingNumber or "").strip()
    if not number:
        out.note(Problem(ProblemCode.INVALID, "Track Alert event without trackingNumber"))
        return
    gmt = _instant(alert.gmtActivityDate, alert.gmtActivityTime, UTC)
    local = _instant(alert.localActivityDate, alert.localActivityTime, FEED.naive_tz)
    occurred_at = gmt or local
    if occurred_at is None:
        stated = alert.gmtActivityTime or alert.localActivityTime
        out.note(unreadable_time(stated, "gmtActivityTime"))
        return
    offset = _local_offset(local, gmt)
    status = alert.activityStatus
    loc = alert.activityLocation
    scheduled = parse_date(alert.scheduledDeliveryDate)
    parcel = FEED.parcel(out, number, received_at)
    status_codes = (
        (status.type, status.code, status.descriptionCode) if status else (None, None, None)
    )
    location = (
        place(
            city=loc.city, region=loc.stateProvince, postal_code=loc.postalCode, country=loc.country
        )
        if loc
        else None
    )
    description = status.description if status else None
    _checkpoint(parcel, "activityStatus", occurred_at, status_codes, description, location)
    delivered = status is not None and status.type == "D"
    if scheduled is not None and not delivered:
        window = _window(scheduled, alert.deliveryStartTime, alert.deliveryEndTime, offset)
        parcel.estimate("", scheduled, window=window)


def _local_offset(local: datetime | None, gmt: datetime | None) -> tzinfo | None:
    """The activity's UTC offset, from its local and GMT renderings of the same instant."""
    if local is None or gmt is None:
        return None
    delta = local - gmt
    if abs(delta) > timedelta(hours=18) or delta % timedelta(minutes=15):
        return None
    return timezone(delta)


# ---------------------------------------------------------------------------------------------
# Event building


def _checkpoint(
    parcel: Parcel,
    path: str,
    occurred_at: datetime,
    status_codes: tuple[str | None, str | None, str | None],
    description: str | None,
    location: Place | None,
    left_at: Reason | None = None,
    proof: Proof | None = None,
) -> None:
    """One activity: its type, code and detail code classified, then stated as a scan; a
    delivery whose code names no place takes ``left_at`` (the package's delivery location),
    and ``proof`` (who signed for the package)."""
    type_, code, detail = status_codes
    status, reason, raw_code, problem = classify(type_, code, detail, description, path)
    if status is TrackingStatus.DELIVERED and reason is None:
        reason = left_at
    parcel.out.note(problem)
    parcel.scan(path, occurred_at, (status, reason), raw_code, description, location, proof=proof)


SHAPES = (
    Shape(frozenset({"trackResponse"}), TrackApiResponse, _track_response),
    Shape(frozenset({"response"}), ErrorResponse, _error_response),
    Shape(frozenset({"activityStatus", "trackingNumber"}), TrackAlertEvent, _track_alert),
)
