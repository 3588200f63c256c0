"""EasyPost webhook ``Event`` → canonical events.

A ``tracker.created`` / ``tracker.updated`` event carries the whole tracker (``result``): every
tracking detail becomes a ``tracking.checkpoint`` and the estimated delivery date an
``edd.revised``. Other events (batches, refunds, invoices…) are acknowledged as unsupported.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from carriers.base import Headers, ParseResult, Problem, ProblemCode, failed
from carriers.common import (
    Collector,
    built,
    checkpoint_event,
    decode_object,
    edd_event,
    map_code,
    parse_date,
    parse_timestamp,
    place,
    unreadable_time,
    validate_item,
)
from carriers.detect import detect_carrier
from carriers.easypost.codes import CARRIERS, PAIRS, STATUS_DETAILS, STATUSES
from carriers.easypost.schema import Event, Tracker, TrackingDetail
from wismo.vocab import Reason, TrackingStatus

SOURCE_NAME = "easypost"
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})

# EasyPost states every timestamp in UTC (``2024-05-01T10:30:00Z``); one without an offset is
# read the same way.
NAIVE_TZ = UTC


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    event, problem = decode_object(raw, Event, "an EasyPost Event")
    if event is None:
        return ParseResult(problems=(problem,) if problem else ())
    if event.object != "Event":
        return failed(ProblemCode.INVALID, f"object is {event.object!r}, not 'Event'", "object")
    if event.description not in TRACKER_EVENTS:
        unsupported = Problem(ProblemCode.UNSUPPORTED, f"{event.description!r} is not tracking")
        return ParseResult(problems=(unsupported,), delivery_id=event.id)
    tracker, problem = validate_item(event.result, Tracker, "result")
    if tracker is None:
        return ParseResult(problems=(problem,) if problem else (), delivery_id=event.id)
    stated_at = (
        parse_timestamp(tracker.updated_at, NAIVE_TZ)
        or parse_timestamp(event.updated_at or event.created_at, NAIVE_TZ)
        or received_at
    )
    previous = (event.previous_attributes or {}).get("est_delivery_date")
    result = tracker_events(tracker, received_at, stated_at, "result", previous_edd=previous)
    return ParseResult(result.events, result.problems, event.id)


def carrier_name(tracker: Tracker) -> str | None:
    if tracker.carrier:
        return CARRIERS.get(tracker.carrier, tracker.carrier.lower())
    return detect_carrier(tracker.tracking_code or "")


def tracker_events(
    tracker: Tracker,
    received_at: datetime,
    stated_at: datetime,
    path: str,
    previous_edd: Any = None,
) -> ParseResult:
    """The events of one EasyPost tracker (from a webhook or from the trackers API)."""
    number = tracker.tracking_code
    if not number or not number.strip():
        return failed(ProblemCode.INVALID, "missing tracking_code", f"{path}.tracking_code")
    carrier = carrier_name(tracker)
    collected = Collector()
    for index, item in enumerate(tracker.tracking_details or ()):
        where = f"{path}.tracking_details[{index}]"
        _add_detail(collected, item, number, carrier, received_at, where)
    estimate = _estimated_delivery(tracker)
    if estimate is not None:
        was = parse_date(previous_edd) if isinstance(previous_edd, str) else None
        collected.add(
            built(
                lambda: edd_event(
                    SOURCE_NAME,
                    tracking_number=number,
                    estimated_delivery=estimate,
                    occurred_at=stated_at,
                    received_at=received_at,
                    carrier=carrier,
                    reason=f"carrier estimate, was {was.isoformat()}" if was else None,
                ),
                path,
            )
        )
    return collected.result()


def _add_detail(
    collected: Collector,
    item: Any,
    number: str,
    carrier: str | None,
    received_at: datetime,
    where: str,
) -> None:
    detail, problem = validate_item(item, TrackingDetail, where)
    if detail is None:
        collected.note(problem)
        return
    occurred_at = parse_timestamp(detail.datetime, NAIVE_TZ)
    if occurred_at is None:
        collected.note(unreadable_time(detail.datetime, f"{where}.datetime"))
        return
    status, reason = _status(collected, detail, where)
    spot = detail.tracking_location
    raw_code = (
        detail.status if not detail.status_detail else f"{detail.status}:{detail.status_detail}"
    )
    collected.add(
        built(
            lambda: checkpoint_event(
                SOURCE_NAME,
                tracking_number=number,
                occurred_at=occurred_at,
                status=status,
                reason=reason,
                raw_code=raw_code,
                message=detail.message or detail.description,
                location=place(
                    city=spot.city, region=spot.state, postal_code=spot.zip, country=spot.country
                )
                if spot
                else None,
                carrier=carrier,
                estimated_delivery=None,
                received_at=received_at,
            ),
            where,
        )
    )


def _status(
    collected: Collector, detail: TrackingDetail, where: str
) -> tuple[TrackingStatus, Reason | None]:
    pair = PAIRS.get(f"{detail.status}:{detail.status_detail}")
    if pair is not None:
        return pair
    status, reason, unmapped = map_code(STATUSES, detail.status, path=f"{where}.status")
    collected.note(unmapped)
    code = detail.status_detail
    if code is None:
        return status, reason
    if code not in STATUS_DETAILS:
        collected.note(
            Problem(
                ProblemCode.UNMAPPED_CODE,
                f"no mapping for status_detail {code!r}; kept without a reason",
                f"{where}.status_detail",
                raw_code=code,
            )
        )
        return status, reason
    return status, STATUS_DETAILS[code] or reason


def _estimated_delivery(tracker: Tracker) -> date | None:
    """The carrier's estimate as a local date: ``est_delivery_date_local`` when EasyPost has it,
    else the date part of ``est_delivery_date`` as written."""
    local = tracker.carrier_detail.est_delivery_date_local if tracker.carrier_detail else None
    return parse_date(local) or parse_date(tracker.est_delivery_date)
