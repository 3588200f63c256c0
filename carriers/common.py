"""Building blocks every source's parser shares: tolerant decoding of JSON, timestamps, dates and
places; code-table look-ups that never drop an event; and the two tracking events
(``tracking.checkpoint`` and ``edd.revised``) with deterministic ids.

Everything here is pure. Decoders return ``None`` or a :class:`~carriers.base.Problem` for bad
input instead of raising; only the event builders raise (:class:`ValueError`, which pydantic's
``ValidationError`` is) when the values cannot form a valid event, so a parser can turn that into
an ``INVALID`` problem naming the item.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from carriers.base import Headers, ParseResult, Problem, ProblemCode
from carriers.countries import alpha2
from wismo.errors import describe_validation_error
from wismo.events import (
    EddRevisedEvent,
    Event,
    EventKind,
    TrackingCheckpointEvent,
    event_from_dict,
)
from wismo.ids import natural_event_id, source_event_id
from wismo.payloads import EddRevised, Place, TrackingCheckpoint
from wismo.vocab import Reason, TrackingStatus

CodeTable = Mapping[str, tuple[TrackingStatus, Reason | None]]
"""A source's declarative mapping: raw code → (status, reason or ``None``)."""
ReasonTable = Mapping[str, Reason | None]
"""For sources that give status and detail separately: detail code → reason (or ``None``)."""

_KIND_TAGS = frozenset(kind.value for kind in EventKind)
MAX_RAW_CODE = 200
MAX_MESSAGE = 2000
_PLACE_TEXT = 2000
_POSTAL_CODE = 16

# ---------------------------------------------------------------------------------------------
# JSON


def load_json(raw: bytes) -> tuple[Any, Problem | None]:
    """Decode a JSON body; a body that is not JSON is a ``MALFORMED`` problem."""
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as error:
        return None, Problem(ProblemCode.MALFORMED, f"not JSON: {error}")


Model = TypeVar("Model", bound=BaseModel)


def decode_object(raw: bytes, model: type[Model], what: str) -> tuple[Model | None, Problem | None]:
    """A JSON object body validated as ``model``; ``MALFORMED`` if it is not a JSON object,
    ``INVALID`` (naming the field) if it does not fit the model."""
    body, problem = load_json(raw)
    if problem is not None:
        return None, problem
    if not isinstance(body, dict):
        return None, Problem(ProblemCode.MALFORMED, f"expected a JSON object ({what})")
    return validate_item(body, model, None)


def validate_item(
    item: object, model: type[Model], path: str | None
) -> tuple[Model | None, Problem | None]:
    """One decoded item validated as ``model``, or the problem naming where it is wrong."""
    if not isinstance(item, dict):
        return None, Problem(ProblemCode.INVALID, "expected an object", path)
    try:
        return model.model_validate(item), None
    except ValidationError as error:
        return None, validation_problem(error, path)


def validation_problem(error: ValidationError, path: str | None = None) -> Problem:
    """An ``INVALID`` problem naming the first offending field under ``path``."""
    first = error.errors(include_url=False)[0]
    # the event kind appears in the location as a union tag; it says nothing about where
    where = ".".join(str(part) for part in first["loc"] if str(part) not in _KIND_TAGS)
    full = ".".join(part for part in (path, where) if part) or None
    if first["type"] == "union_tag_invalid":
        message = f"unknown kind {first.get('ctx', {}).get('tag')!r}"
    elif error.error_count() > 1:
        message = describe_validation_error(error)
    else:
        message = str(first["msg"])
    return Problem(ProblemCode.INVALID, message, full)


def built(make: Callable[[], Event], path: str) -> tuple[Event | None, Problem | None]:
    """Run an event builder; values that cannot form a valid event become an ``INVALID``
    problem at ``path`` instead of an exception."""
    try:
        return make(), None
    except ValidationError as error:
        return None, validation_problem(error, path)
    except ValueError as error:
        return None, Problem(ProblemCode.INVALID, str(error), path)


def text(value: object, limit: int = _PLACE_TEXT) -> str | None:
    """A trimmed, length-capped string, or ``None`` for anything blank or not a string/number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    cleaned = str(value).strip()
    return cleaned[:limit] if cleaned else None


# ---------------------------------------------------------------------------------------------
# Time

_OFFSET = re.compile(r"^(?:Z|UTC|GMT|(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?)$", re.IGNORECASE)


def parse_offset(value: object) -> timezone | None:
    """A UTC offset written as ``Z``, ``+05:00``, ``-0500`` or ``+5``; ``None`` if not one."""
    if not isinstance(value, str):
        return None
    match = _OFFSET.match(value.strip())
    if match is None:
        return None
    if match["sign"] is None:
        return UTC
    hours, minutes = int(match["h"]), int(match["m"] or 0)
    if hours > 18 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if match["sign"] == "-" else delta)


def parse_timestamp(value: object, naive_tz: tzinfo | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime; ``None`` when it is not one.

    A timestamp without an offset is read in ``naive_tz`` (the location's offset, or the
    source's documented convention, which the caller names); with ``naive_tz=None`` it is
    rejected rather than guessed.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if naive_tz is None:
            return None
        parsed = parsed.replace(tzinfo=naive_tz)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def unreadable_time(value: object, path: str) -> Problem:
    """The ``INVALID`` problem for an event whose time is missing or not a timestamp: without
    a time it cannot be placed on the timeline, so it is reported rather than guessed."""
    if value is None or value == "":
        return Problem(ProblemCode.INVALID, "missing time", path)
    return Problem(ProblemCode.INVALID, f"unreadable time {value!r}", path)


def parse_date(value: object) -> date | None:
    """A calendar date from ``2024-05-01``, ``20240501`` or the date part of a timestamp.

    The date part is taken as written (the carrier's local date), never shifted to UTC: an
    estimated delivery date is a day at the destination, not an instant.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    candidate = value.strip()
    try:
        return datetime.fromisoformat(candidate).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(candidate[:10])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Places


def place(
    *,
    city: object = None,
    region: object = None,
    postal_code: object = None,
    country: object = None,
    facility: object = None,
) -> Place | None:
    """A :class:`Place` from whatever the source gave; unusable parts are left out, and a place
    with nothing usable is ``None``. Countries may be ISO alpha-2 or alpha-3."""
    fields = {
        "city": text(city),
        "region": text(region),
        "postal_code": text(postal_code, _POSTAL_CODE),
        "country": alpha2(text(country)),
        "facility": text(facility),
    }
    present = {key: value for key, value in fields.items() if value is not None}
    return Place(**present) if present else None


def _place_key(location: Place | None) -> tuple[str | None, ...]:
    if location is None:
        return ()
    return (
        location.facility,
        location.city,
        location.region,
        location.postal_code,
        location.country,
    )


# ---------------------------------------------------------------------------------------------
# Code tables


def map_code(
    table: CodeTable,
    code: str | None,
    *,
    path: str,
    fallback: TrackingStatus = TrackingStatus.UNKNOWN,
) -> tuple[TrackingStatus, Reason | None, Problem | None]:
    """Look ``code`` up; an unknown code keeps ``fallback`` (the best status the source gave, or
    ``unknown``) and comes with an ``UNMAPPED_CODE`` problem so it is counted, never dropped."""
    if code is not None and code in table:
        status, reason = table[code]
        return status, reason, None
    shown = "(none)" if code is None else repr(code)
    problem = Problem(
        ProblemCode.UNMAPPED_CODE,
        f"no mapping for code {shown}; kept as {fallback}",
        path,
        raw_code=code,
    )
    return fallback, None, problem


# ---------------------------------------------------------------------------------------------
# Events


def _tracking_key(tracking_number: str) -> str:
    return "".join(tracking_number.split()).upper()


def _event_id(source: str, source_id: str | None, kind: EventKind, *natural_key: object) -> str:
    if source_id:
        return source_event_id(source, source_id)
    return natural_event_id(source, kind.value, *natural_key)


def checkpoint_event(
    source: str,
    *,
    tracking_number: str,
    occurred_at: datetime,
    status: TrackingStatus,
    reason: Reason | None,
    raw_code: str | None,
    message: str | None,
    location: Place | None,
    carrier: str | None,
    estimated_delivery: date | None,
    received_at: datetime,
    source_id: str | None = None,
    order_id: str | None = None,
) -> TrackingCheckpointEvent:
    """One carrier scan as a canonical event.

    Its id is the source's own checkpoint id when it has one, else a hash of the natural key
    (tracking number, instant, raw code, location): the same scan delivered by a retry, a second
    webhook or a poll collapses to one event. The message is not part of the key, so a scan
    whose wording changes between deliveries is still one scan.
    Raises :class:`ValueError` when the values cannot form a valid event.
    """
    event_id = _event_id(
        source,
        source_id,
        EventKind.TRACKING_CHECKPOINT,
        _tracking_key(tracking_number),
        occurred_at.astimezone(UTC),
        raw_code,
        *_place_key(location),
    )
    payload = TrackingCheckpoint(
        status=status,
        reason=reason,
        carrier=text(carrier, 128),
        raw_code=text(raw_code, MAX_RAW_CODE),
        message=text(message, MAX_MESSAGE),
        location=location,
        estimated_delivery=estimated_delivery,
    )
    return TrackingCheckpointEvent(
        kind=EventKind.TRACKING_CHECKPOINT,
        event_id=event_id,
        source=source,
        order_id=text(order_id, 128),
        tracking_number=tracking_number,
        occurred_at=occurred_at,
        received_at=received_at,
        payload=payload,
    )


def edd_event(
    source: str,
    *,
    tracking_number: str,
    estimated_delivery: date,
    occurred_at: datetime,
    received_at: datetime,
    carrier: str | None = None,
    reason: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    source_id: str | None = None,
    order_id: str | None = None,
) -> EddRevisedEvent:
    """A carrier's estimated delivery date as an ``edd.revised`` event.

    ``occurred_at`` (when the source stated the date) is part of the natural key, so a date that
    goes A → B → A stays three revisions; a retried delivery of the same statement is one.
    Raises :class:`ValueError` when the values cannot form a valid event.
    """
    event_id = _event_id(
        source,
        source_id,
        EventKind.EDD_REVISED,
        _tracking_key(tracking_number),
        estimated_delivery,
        window_start,
        window_end,
        occurred_at.astimezone(UTC),
    )
    payload = EddRevised(
        estimated_delivery=estimated_delivery,
        window_start=window_start,
        window_end=window_end,
        carrier=text(carrier, 128),
        reason=text(reason),
    )
    return EddRevisedEvent(
        kind=EventKind.EDD_REVISED,
        event_id=event_id,
        source=source,
        order_id=text(order_id, 128),
        tracking_number=tracking_number,
        occurred_at=occurred_at,
        received_at=received_at,
        payload=payload,
    )


@dataclass(slots=True)
class Collector:
    """Events and problems gathered while parsing one delivery."""

    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def add(self, outcome: tuple[Event | None, Problem | None]) -> None:
        event, problem = outcome
        if event is not None:
            self.events.append(event)
        self.note(problem)

    def note(self, problem: Problem | None) -> None:
        if problem is not None:
            self.problems.append(problem)

    def result(self, delivery_id: str | None = None) -> ParseResult:
        return ParseResult(tuple(self.events), tuple(self.problems), delivery_id)


# ---------------------------------------------------------------------------------------------
# The package's SOURCE

ParseFunction = Callable[[bytes, Headers, datetime], ParseResult]
VerifyFunction = Callable[[bytes, Headers, Sequence[str], datetime], Problem | None]


@dataclass(frozen=True, slots=True)
class PackagedSource:
    """A :class:`~carriers.base.Source` made of a package's ``parse`` and ``verify`` functions."""

    name: str
    parse_function: ParseFunction
    verify_function: VerifyFunction

    def parse(self, raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
        return self.parse_function(raw, headers, received_at)

    def verify(
        self, raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime
    ) -> Problem | None:
        return self.verify_function(raw, headers, secrets, now)


def tracking_number(value: object) -> str | None:
    """A tracking number as every source writes it (no spaces, upper case); ``None`` for what
    cannot be one (``"N/A"``, ``"-"``: merchants type those when there is none)."""
    if not isinstance(value, str):
        return None
    number = "".join(value.split()).upper()
    return number if 4 <= len(number) <= 64 else None


def commerce_event(
    kind: EventKind,
    key: tuple[object, ...],
    *,
    order_id: str,
    occurred_at: datetime,
    received_at: datetime,
    payload: dict[str, Any],
    source: str,
) -> Event:
    """One canonical order-side event of a commerce source, its id a hash of ``key``; raises
    ``ValueError`` when the values cannot form one."""
    return event_from_dict(
        {
            "kind": kind,
            "event_id": natural_event_id(source, kind.value, *key),
            "source": source,
            "order_id": order_id,
            "occurred_at": occurred_at,
            "received_at": received_at,
            "payload": {k: v for k, v in payload.items() if v is not None},
        }
    )
