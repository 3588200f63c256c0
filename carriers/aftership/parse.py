"""AfterShip webhooks and Tracking API answers → canonical events.

A ``tracking_update`` or ``edd_revise`` delivery carries the whole tracking (``msg``). The
Tracking API wraps trackings in ``{"meta": {...}, "data": ...}``: ``GET /trackings/{id}`` answers
``data.tracking`` (API versions up to 2023) or the tracking itself as ``data`` (2024 versions on),
and ``GET /trackings`` answers ``data.trackings``. Every checkpoint becomes a
``tracking.checkpoint`` (re-sent checkpoints collapse by their natural-key id), and the estimated
delivery date a tracking states becomes an ``edd.revised``; the same tracking pushed and polled
gives the same checkpoints. An answer whose ``meta.code`` is not a success is unsupported.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from carriers.aftership import codes
from carriers.aftership.schema import (
    ApiResponse,
    Checkpoint,
    LatestEstimatedDelivery,
    Tracking,
    Webhook,
)
from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.build import Proof
from carriers.code_tables import map_code
from carriers.decode import validate_item
from carriers.detect import detect_carrier
from carriers.places import place
from carriers.times import parse_date, parse_timestamp, unreadable_time
from carriers.tracking_feed import Parcel, Shape, TrackingFeed, valid_items
from wismo.vocab import Reason, TrackingStatus

TRACKING_EVENTS = frozenset({"tracking_update", "edd_revise"})
#: ``meta.code`` of a successful answer (v4 and 2024 versions: 200, created: 201).
SUCCESS_CODES = frozenset({"200", "201"})

# AfterShip gives checkpoint_time in the checkpoint's local time, with the offset when the
# carrier provides one and without it otherwise; a time without an offset is read as UTC (the
# local offset is unknowable from the payload), which can misplace it by the local offset.
# Each tracking names its own carrier (its slug).
FEED = TrackingFeed("aftership", carrier=None, naive_tz=UTC)


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    expected = "a JSON object (an AfterShip webhook or Tracking API answer)"
    return FEED.parse(raw, received_at, (API_RESPONSE, WEBHOOK), expected)


def _webhook(webhook: Webhook, _: str, received_at: datetime, out: Collector) -> None:
    out.delivery_id = webhook.event_id
    if webhook.event not in TRACKING_EVENTS:
        message = f"event {webhook.event!r} is not tracking data"
        out.note(Problem(ProblemCode.UNSUPPORTED, message))
    elif webhook.msg is None:
        out.note(Problem(ProblemCode.INVALID, "missing the tracking", "msg"))
    else:
        add_tracking(out, webhook.msg, received_at, _stated_at(webhook, received_at), "msg")


def _stated_at(webhook: Webhook, received_at: datetime) -> datetime:
    if webhook.ts is not None:
        try:
            return datetime.fromtimestamp(webhook.ts, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    msg = webhook.msg
    updated = parse_timestamp(msg.updated_at if msg else None, UTC)
    return updated or received_at


def _api_response(answer: ApiResponse, _: str, received_at: datetime, out: Collector) -> None:
    """A Tracking API answer: one tracking, or a page of them; a tracking's estimate is stated
    at its ``updated_at``, else at receipt."""
    meta = answer.meta
    if meta is not None and meta.code is not None and meta.code not in SUCCESS_CODES:
        message = f"AfterShip error {meta.code} ({meta.type}): {meta.message}"
        out.note(Problem(ProblemCode.UNSUPPORTED, message, "meta"))
        return
    data = answer.data
    if data is None:
        out.note(Problem(ProblemCode.INVALID, "missing the tracking", "data"))
        return
    if "trackings" in data:
        listed = data["trackings"]
        if not isinstance(listed, list):
            out.note(Problem(ProblemCode.INVALID, "expected a list", "data.trackings"))
            return
        for where, item in valid_items(out, listed, Tracking, "data.trackings"):
            _polled(item, where, received_at, out)
        return
    nested = "tracking" in data
    where = "data.tracking" if nested else "data"
    tracking, problem = validate_item(data["tracking"] if nested else data, Tracking, where)
    if tracking is None:
        out.note(problem)
        return
    _polled(tracking, where, received_at, out)


def _polled(tracking: Tracking, path: str, received_at: datetime, out: Collector) -> None:
    stated_at = parse_timestamp(tracking.updated_at, UTC) or received_at
    add_tracking(out, tracking, received_at, stated_at, path)


def add_tracking(
    out: Collector, tracking: Tracking, received_at: datetime, stated_at: datetime, path: str
) -> None:
    """The events of one AfterShip tracking (from a webhook or from the tracking API)."""
    number = tracking.tracking_number
    if not number or not number.strip():
        out.note(Problem(ProblemCode.INVALID, "missing tracking_number", f"{path}.tracking_number"))
        return
    carrier = tracking.slug or detect_carrier(number)
    parcel = FEED.parcel(out, number, received_at, carrier=carrier, order_id=tracking.order_id)
    checkpoints = valid_items(out, tracking.checkpoints or (), Checkpoint, f"{path}.checkpoints")
    proof = Proof(signed_by=tracking.signed_by)
    for where, checkpoint in checkpoints:
        _add_checkpoint(parcel, checkpoint, where, proof)
    estimate = _estimated_delivery(tracking)
    if estimate is not None:
        day, said_by = estimate
        latest = tracking.latest_estimated_delivery
        window = (_window(latest, "min"), _window(latest, "max"))
        parcel.estimate(path, day, stated_at=stated_at, window=window, reason=said_by)


def _add_checkpoint(parcel: Parcel, checkpoint: Checkpoint, where: str, proof: Proof) -> None:
    occurred_at = FEED.instant(checkpoint.checkpoint_time)
    if occurred_at is None:
        parcel.out.note(unreadable_time(checkpoint.checkpoint_time, f"{where}.checkpoint_time"))
        return
    status, reason, unmapped = _status(checkpoint, where)
    parcel.out.note(unmapped)
    location = place(
        city=checkpoint.city,
        region=checkpoint.state,
        postal_code=checkpoint.zip,
        country=checkpoint.country_region or checkpoint.country_iso3,
        facility=_facility(checkpoint),
    )
    raw_code = checkpoint.subtag or checkpoint.tag
    message = checkpoint.message or checkpoint.subtag_message
    mapped = (status, reason)
    parcel.scan(where, occurred_at, mapped, raw_code, message, location, checkpoint.slug, proof)


def _facility(checkpoint: Checkpoint) -> str | None:
    """The free-text ``location`` when it names a place (a pickup point, a facility), not when
    it merely spells out the city or the country again."""
    location = (checkpoint.location or "").strip()
    if not location:
        return None
    restated = (checkpoint.city, checkpoint.country_name, checkpoint.country_region_name)
    if any(part and location.casefold().startswith(part.casefold()) for part in restated):
        return None
    return location


def _status(
    checkpoint: Checkpoint, where: str
) -> tuple[TrackingStatus, Reason | None, Problem | None]:
    tag_status = codes.TAGS.get(checkpoint.tag or "")
    if checkpoint.subtag is None and tag_status is not None:
        return tag_status[0], tag_status[1], None
    fallback = tag_status[0] if tag_status is not None else TrackingStatus.UNKNOWN
    return map_code(codes.SUBTAGS, checkpoint.subtag, path=f"{where}.subtag", fallback=fallback)


def _estimated_delivery(tracking: Tracking) -> tuple[date, str] | None:
    """The date AfterShip currently states, and who said it: the latest EDD it shows, else the
    carrier's, else AfterShip's own prediction."""
    latest = tracking.latest_estimated_delivery
    courier = tracking.courier_estimated_delivery_date
    predicted = tracking.aftership_estimated_delivery_date
    candidates = (
        (latest.datetime if latest else None, (latest.source if latest else None) or "latest"),
        (courier.estimated_delivery_date if courier else None, "Carrier EDD"),
        (tracking.expected_delivery, "Carrier EDD"),
        (predicted.estimated_delivery_date if predicted else None, "AfterShip EDD"),
    )
    for value, said_by in candidates:
        day = parse_date(value)
        if day is not None:
            return day, said_by
    return None


def _window(latest: LatestEstimatedDelivery | None, end: str) -> datetime | None:
    """A delivery window bound, only when AfterShip gives it as an instant with an offset."""
    if latest is None:
        return None
    value = latest.datetime_min if end == "min" else latest.datetime_max
    return parse_timestamp(value, naive_tz=None)


API_RESPONSE = Shape(frozenset({"meta", "data"}), ApiResponse, _api_response)
WEBHOOK = Shape(frozenset(), Webhook, _webhook)
