"""What a platform's listing gives a catch-up: each object as the platform would have pushed it.

A commerce platform's API lists what changed in a time range, oldest update first, a page at a
time. A client turns each listed object into a :class:`Listed` — the body and HTTP headers its
webhook or callout would have carried, so the source's parser reads it exactly as a pushed one —
with a delivery id made of the object's kind, id and update time: listing the same range twice
gives the same delivery ids (and downstream the same event ids), so nothing doubles.

An answer that is not the expected shape raises :class:`ListingError`, naming where.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from carriers.errors import CarrierError
from carriers.times import parse_timestamp


class ListingError(CarrierError):
    """A listing's answer is not the shape its API documents."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One object of a listing, ready to travel as a raw payload of its source."""

    kind: str
    object_id: str
    updated_at: datetime
    body: bytes
    http_headers: Mapping[str, str]

    @property
    def delivery_id(self) -> str:
        return listed_delivery_id(self.kind, self.object_id, self.updated_at)


@dataclass(frozen=True, slots=True)
class ListedPage:
    """One answer of a listing: its objects (in update order) and the newest update time."""

    stream: str
    objects: tuple[Listed, ...]
    newest: datetime | None


class Listing(Protocol):
    """A platform's listings: named streams of pages, oldest update first, bounds inclusive."""

    source: str
    streams: tuple[str, ...]

    def pages(
        self, stream: str, since: datetime, until: datetime | None
    ) -> AsyncIterator[ListedPage]: ...


def listed_delivery_id(kind: str, object_id: str, updated_at: datetime) -> str:
    return f"sync:{kind}:{object_id}:{updated_at.astimezone(UTC).isoformat()}"


def listed_time(value: object, where: str) -> datetime:
    """An ISO 8601 update time from an answer (UTC when it names no offset)."""
    if not isinstance(value, str) or not value:
        raise ListingError(f"{where}: no update time")
    moment = parse_timestamp(value, UTC)
    if moment is None:
        raise ListingError(f"{where}: unreadable update time {value!r}")
    return moment
