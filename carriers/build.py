"""The canonical events every source builds: a carrier scan (``tracking.checkpoint``), a
delivery estimate (``edd.revised``) and a commerce system's order-side events, each with a
deterministic id, plus :func:`built`, which turns values that cannot form an event into a
problem naming the item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from carriers.base import Problem, ProblemCode
from carriers.decode import validation_problem
from carriers.places import place_key
from carriers.values import text
from wismo.events import (
    EddRevisedEvent,
    Event,
    EventKind,
    TrackingCheckpointEvent,
    event_from_dict,
)
from wismo.ids import natural_event_id, source_event_id
from wismo.payloads import EddRevised, Place, TrackingCheckpoint, is_https_url
from wismo.vocab import Reason, TrackingStatus

MAX_RAW_CODE = 200
MAX_MESSAGE = 2000
MAX_SIGNED_BY = 100
MAX_PROOF_URL = 1000


@dataclass(frozen=True, slots=True)
class Proof:
    """A carrier's proof of delivery as it sent it: who signed, a link to the photo or
    document. Anything unusable (not a string, not an ``https://`` link, too long a link) is
    left out rather than failing the scan."""

    signed_by: object = None
    url: object = None

    def fields(self) -> dict[str, str | None]:
        url = text(self.url)
        https = url is not None and len(url) <= MAX_PROOF_URL and is_https_url(url)
        return {
            "signed_by": text(self.signed_by, MAX_SIGNED_BY),
            "proof_of_delivery_url": url if https else None,
        }


def built(make: Callable[[], Event], path: str) -> tuple[Event | None, Problem | None]:
    """Run an event builder; values that cannot form a valid event become an ``INVALID``
    problem at ``path`` instead of an exception."""
    try:
        return make(), None
    except ValidationError as error:
        return None, validation_problem(error, path)
    except ValueError as error:
        return None, Problem(ProblemCode.INVALID, str(error), path)


def _tracking_key(tracking_number: str) -> str:
    return "".join(tracking_number.split()).upper()


def _event_id(source: str, source_id: str | None, kind: EventKind, *natural_key: object) -> str:
    if source_id:
        return source_event_id(source, source_id)
    return natural_event_id(source, kind.value, *natural_key)


def _envelope(
    source: str,
    event_id: str,
    order_id: str | None,
    tracking_number: str,
    occurred_at: datetime,
    received_at: datetime,
) -> dict[str, Any]:
    """The envelope fields of a tracking event."""
    return {
        "event_id": event_id,
        "source": source,
        "order_id": text(order_id, 128),
        "tracking_number": tracking_number,
        "occurred_at": occurred_at,
        "received_at": received_at,
    }


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
    proof: Proof | None = None,
) -> TrackingCheckpointEvent:
    """One carrier scan as a canonical event.

    Its id is the source's own checkpoint id when it has one, else a hash of the natural key
    (tracking number, instant, raw code, location): the same scan delivered by a retry, a second
    webhook or a poll collapses to one event. The message is not part of the key, so a scan
    whose wording changes between deliveries is still one scan; so is its ``proof`` of delivery
    (kept only on a delivery).
    Raises :class:`ValueError` when the values cannot form a valid event.
    """
    event_id = _event_id(
        source,
        source_id,
        EventKind.TRACKING_CHECKPOINT,
        _tracking_key(tracking_number),
        occurred_at.astimezone(UTC),
        raw_code,
        *place_key(location),
    )
    payload = TrackingCheckpoint(
        status=status,
        reason=reason,
        carrier=text(carrier, 128),
        raw_code=text(raw_code, MAX_RAW_CODE),
        message=text(message, MAX_MESSAGE),
        location=location,
        estimated_delivery=estimated_delivery,
        **(proof.fields() if proof and status is TrackingStatus.DELIVERED else {}),
    )
    envelope = _envelope(source, event_id, order_id, tracking_number, occurred_at, received_at)
    return TrackingCheckpointEvent(kind=EventKind.TRACKING_CHECKPOINT, payload=payload, **envelope)


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
    envelope = _envelope(source, event_id, order_id, tracking_number, occurred_at, received_at)
    return EddRevisedEvent(kind=EventKind.EDD_REVISED, payload=payload, **envelope)


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
