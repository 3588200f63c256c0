"""The base every carrier tracking parser stands on (UPS, FedEx, USPS, DHL, AfterShip, EasyPost).

A parser declares its :class:`TrackingFeed` (source name, carrier, how it reads a local time
without an offset) and the :class:`Shape` of each body it accepts; :meth:`TrackingFeed.parse`
is the opening they all share: decode the JSON, recognise the shape by its keys, validate it as
the shape's model and hand it to the shape's reader, every failure a problem in the result. The
readers then state each parcel's scans and estimates through a :class:`Parcel`, which carries
the feed's name and carrier and turns values that cannot form an event into a problem naming
the item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Generic

from carriers.base import Collector, ParseResult, ProblemCode, failed
from carriers.build import Proof, built, checkpoint_event, edd_event
from carriers.decode import Model, load_json, validate_item
from carriers.times import parse_timestamp
from wismo.payloads import Place
from wismo.vocab import Reason, TrackingStatus

Reader = Callable[[Model, str, datetime, Collector], None]
"""Adds what one validated item states to the collector: ``(item, path, received_at, out)``."""


@dataclass(frozen=True, slots=True)
class Shape(Generic[Model]):
    """One kind of JSON object a source sends: recognised by any of ``keys`` (any object when
    ``keys`` is empty), validated as ``model``, read by ``read``."""

    keys: frozenset[str]
    model: type[Model]
    read: Reader[Model]

    def fits(self, item: object) -> bool:
        return isinstance(item, dict) and (not self.keys or not self.keys.isdisjoint(item))

    def add(self, item: object, path: str, received_at: datetime, out: Collector) -> None:
        decoded, problem = validate_item(item, self.model, path or None)
        if decoded is None:
            out.note(problem)
            return
        self.read(decoded, path, received_at, out)


def valid_items(
    out: Collector, items: Iterable[object], model: type[Model], path: str
) -> Iterator[tuple[str, Model]]:
    """Each item of the list at ``path`` that fits ``model``, with its own path; an item that
    does not is a problem in ``out``, and its siblings are still read."""
    for index, item in enumerate(items):
        where = f"{path}[{index}]".lstrip(".")
        decoded, problem = validate_item(item, model, where)
        if decoded is None:
            out.note(problem)
            continue
        yield where, decoded


@dataclass(frozen=True, slots=True)
class TrackingFeed:
    """A tracking source: the name its events carry, the carrier they speak for (``None``:
    each item names its own) and the zone a local time without an offset is read in (the
    source's documented convention, named where the feed is declared)."""

    source: str
    carrier: str | None
    naive_tz: tzinfo

    def parse(
        self,
        raw: bytes,
        received_at: datetime,
        shapes: Sequence[Shape[Any]],
        expected: str,
        *,
        listed: Shape[Any] | None = None,
    ) -> ParseResult:
        """The body as the first of ``shapes`` it fits, or (with ``listed``) a non-empty JSON
        array whose every item fits ``listed``; anything else is ``MALFORMED``."""
        body, problem = load_json(raw)
        if problem is not None:
            return ParseResult(problems=(problem,))
        out = Collector()
        if listed is not None and isinstance(body, list) and body and all(map(listed.fits, body)):
            for index, item in enumerate(body):
                listed.add(item, f"[{index}]", received_at, out)
            return out.result()
        shape = next((s for s in shapes if s.fits(body)), None)
        if shape is None:
            return failed(ProblemCode.MALFORMED, f"expected {expected}")
        shape.add(body, "", received_at, out)
        return out.result()

    def instant(self, value: object, tz: tzinfo | None = None) -> datetime | None:
        """A timestamp; without an offset it is read in ``tz``, else in the feed's zone."""
        return parse_timestamp(value, tz or self.naive_tz)

    def parcel(
        self,
        out: Collector,
        number: str,
        received_at: datetime,
        *,
        carrier: str | None = None,
        order_id: str | None = None,
    ) -> Parcel:
        """Where the events one delivery states about tracking number ``number`` go."""
        return Parcel(self, out, number, received_at, carrier or self.carrier, order_id)


@dataclass(slots=True)
class Parcel:
    """The scans and estimates one delivery states about one tracking number, and the instant
    of the newest scan: when the carrier last said what it knew, so an estimate read from the
    same delivery is stated then (polling an unchanged parcel twice gives the same event)."""

    feed: TrackingFeed
    out: Collector
    number: str
    received_at: datetime
    carrier: str | None = None
    order_id: str | None = None
    newest: datetime | None = None

    def scan(
        self,
        path: str,
        occurred_at: datetime,
        mapped: tuple[TrackingStatus, Reason | None],
        raw_code: str | None,
        message: str | None,
        location: Place | None,
        carrier: str | None = None,
        proof: Proof | None = None,
    ) -> None:
        """A ``tracking.checkpoint``. A scan says nothing about the delivery date (that is the
        estimate's job), so the same scan pushed and polled gives the same event; a delivery
        may carry the carrier's ``proof`` of it."""
        self.newest = max(self.newest or occurred_at, occurred_at)
        status, reason = mapped
        self.out.add(
            built(
                lambda: checkpoint_event(
                    self.feed.source,
                    tracking_number=self.number,
                    occurred_at=occurred_at,
                    status=status,
                    reason=reason,
                    raw_code=raw_code,
                    message=message,
                    location=location,
                    carrier=carrier or self.carrier,
                    estimated_delivery=None,
                    received_at=self.received_at,
                    order_id=self.order_id,
                    proof=proof,
                ),
                path,
            )
        )

    def estimate(
        self,
        path: str,
        day: date,
        *,
        stated_at: datetime | None = None,
        window: tuple[datetime | None, datetime | None] = (None, None),
        reason: str | None = None,
    ) -> None:
        """An ``edd.revised`` for ``day``, stated at ``stated_at`` (else at the newest scan,
        else at receipt), with its delivery window if any."""
        occurred_at = stated_at or self.newest or self.received_at
        self.out.add(
            built(
                lambda: edd_event(
                    self.feed.source,
                    tracking_number=self.number,
                    estimated_delivery=day,
                    occurred_at=occurred_at,
                    received_at=self.received_at,
                    carrier=self.carrier,
                    reason=reason,
                    window_start=window[0],
                    window_end=window[1],
                    order_id=self.order_id,
                ),
                path,
            )
        )
