"""EasyPost webhook ``Event`` and trackers API answers → canonical events.

Three bodies carry trackers:

* a webhook ``Event`` (``{"object": "Event", "result": {Tracker}}``): a ``tracker.created`` /
  ``tracker.updated`` event carries the whole tracker; other events (batches, refunds,
  invoices…) are acknowledged as unsupported;
* a bare ``Tracker`` (``{"object": "Tracker", ...}``), as ``GET /v2/trackers/:id`` and
  ``POST /v2/trackers`` answer;
* a page of trackers, ``{"trackers": [...], "has_more": …}``, as ``GET /v2/trackers`` answers.

Every tracking detail becomes a ``tracking.checkpoint`` and the estimated delivery date an
``edd.revised``; the same tracker pushed and polled gives the same events. An API error body
(``{"error": {"code", "message"}}``) is unsupported.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.build import Proof
from carriers.code_tables import map_code
from carriers.decode import validate_item
from carriers.detect import detect_carrier
from carriers.easypost import codes
from carriers.easypost.schema import ApiError, Event, Tracker, TrackerList, TrackingDetail
from carriers.places import place
from carriers.times import parse_date, unreadable_time
from carriers.tracking_feed import Parcel, Shape, TrackingFeed, valid_items
from wismo.vocab import Reason, TrackingStatus

TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})

# EasyPost states every timestamp in UTC (``2024-05-01T10:30:00Z``); one without an offset is
# read the same way. Each tracker names its own carrier.
FEED = TrackingFeed("easypost", carrier=None, naive_tz=UTC)


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    expected = "a JSON object (an EasyPost Event, Tracker or list of trackers)"
    return FEED.parse(raw, received_at, SHAPES, expected)


def _event(event: Event, _: str, received_at: datetime, out: Collector) -> None:
    if event.object != "Event":
        out.note(Problem(ProblemCode.INVALID, f"object is {event.object!r}, not 'Event'", "object"))
        return
    out.delivery_id = event.id
    if event.description not in TRACKER_EVENTS:
        out.note(Problem(ProblemCode.UNSUPPORTED, f"{event.description!r} is not tracking"))
        return
    tracker, problem = validate_item(event.result, Tracker, "result")
    if tracker is None:
        out.note(problem)
        return
    stated_at = (
        FEED.instant(tracker.updated_at)
        or FEED.instant(event.updated_at or event.created_at)
        or received_at
    )
    previous = (event.previous_attributes or {}).get("est_delivery_date")
    add_tracker(out, tracker, received_at, stated_at, "result", previous_edd=previous)


def _tracker(tracker: Tracker, path: str, received_at: datetime, out: Collector) -> None:
    """A bare tracker, as the trackers API answers it; its estimate is stated at its
    ``updated_at`` (as the webhook's is), else at receipt."""
    if tracker.object not in (None, "Tracker"):
        message = f"object is {tracker.object!r}, not 'Tracker'"
        out.note(Problem(ProblemCode.INVALID, message, _join(path, "object")))
        return
    stated_at = FEED.instant(tracker.updated_at) or received_at
    add_tracker(out, tracker, received_at, stated_at, path)


def _tracker_list(page: TrackerList, _: str, received_at: datetime, out: Collector) -> None:
    """``GET /v2/trackers``: every tracker of the page (an empty page states nothing)."""
    for where, tracker in valid_items(out, page.trackers, Tracker, "trackers"):
        _tracker(tracker, where, received_at, out)


def _error(body: ApiError, _: str, received_at: datetime, out: Collector) -> None:
    error = body.error
    out.note(Problem(ProblemCode.UNSUPPORTED, f"EasyPost error {error.code}: {error.message}"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def carrier_name(tracker: Tracker) -> str | None:
    if tracker.carrier:
        return codes.CARRIERS.get(tracker.carrier, tracker.carrier.lower())
    return detect_carrier(tracker.tracking_code or "")


def add_tracker(
    out: Collector,
    tracker: Tracker,
    received_at: datetime,
    stated_at: datetime,
    path: str,
    previous_edd: Any = None,
) -> None:
    """The events of one EasyPost tracker (from a webhook or from the trackers API)."""
    number = tracker.tracking_code
    if not number or not number.strip():
        where = _join(path, "tracking_code")
        out.note(Problem(ProblemCode.INVALID, "missing tracking_code", where))
        return
    parcel = FEED.parcel(out, number, received_at, carrier=carrier_name(tracker))
    details = _join(path, "tracking_details")
    for where, detail in valid_items(out, tracker.tracking_details or (), TrackingDetail, details):
        _add_detail(parcel, detail, where, Proof(signed_by=tracker.signed_by))
    estimate = _estimated_delivery(tracker)
    if estimate is not None:
        was = parse_date(previous_edd) if isinstance(previous_edd, str) else None
        reason = f"carrier estimate, was {was.isoformat()}" if was else None
        parcel.estimate(path, estimate, stated_at=stated_at, reason=reason)


def _add_detail(parcel: Parcel, detail: TrackingDetail, where: str, proof: Proof) -> None:
    occurred_at = FEED.instant(detail.datetime)
    if occurred_at is None:
        parcel.out.note(unreadable_time(detail.datetime, f"{where}.datetime"))
        return
    mapped = _status(parcel.out, detail, where)
    spot = detail.tracking_location
    location = (
        place(city=spot.city, region=spot.state, postal_code=spot.zip, country=spot.country)
        if spot
        else None
    )
    raw_code = (
        detail.status if not detail.status_detail else f"{detail.status}:{detail.status_detail}"
    )
    message = detail.message or detail.description
    parcel.scan(where, occurred_at, mapped, raw_code, message, location, proof=proof)


def _status(
    collected: Collector, detail: TrackingDetail, where: str
) -> tuple[TrackingStatus, Reason | None]:
    pair = codes.PAIRS.get(f"{detail.status}:{detail.status_detail}")
    if pair is not None:
        return pair
    status, reason, unmapped = map_code(codes.STATUSES, detail.status, path=f"{where}.status")
    collected.note(unmapped)
    code = detail.status_detail
    if code is None:
        return status, reason
    if code not in codes.STATUS_DETAILS:
        message = f"no mapping for status_detail {code!r}; kept without a reason"
        path = f"{where}.status_detail"
        collected.note(Problem(ProblemCode.UNMAPPED_CODE, message, path, raw_code=code))
        return status, reason
    return status, codes.STATUS_DETAILS[code] or reason


def _estimated_delivery(tracker: Tracker) -> date | None:
    """The carrier's estimate as a local date: ``est_delivery_date_local`` when EasyPost has it,
    else the date part of ``est_delivery_date`` as written."""
    local = tracker.carrier_detail.est_delivery_date_local if tracker.carrier_detail else None
    return parse_date(local) or parse_date(tracker.est_delivery_date)


EVENT = Shape(frozenset(), Event, _event)
SHAPES = (
    Shape(frozenset({"trackers"}), TrackerList, _tracker_list),
    Shape(frozenset({"error"}), ApiError, _error),
    Shape(frozenset({"tracking_code", "tracking_details"}), Tracker, _tracker),
    EVENT,
)
