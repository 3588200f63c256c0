"""Pure decisions of the stream agents: raw message → canonical events → where each one goes.

No Kafka here: the agents in :mod:`streams.agents` feed messages in and send what comes out.

Routing of a canonical event:

- an event that names its order goes to ``events`` keyed by the order id;
- a tracking event that does not (yet) goes to ``tracking`` keyed by its tracking number, where
  the link agent joins it to its order or parks it;
- a shipment or return naming tracking numbers *also* goes to ``tracking`` once per number, so
  the link agent learns the link on the same partition, after any scan that came before it, and
  releases what it parked.

A scan whose number is already linked need not wait for the link agent: :func:`direct` sends it
from the normalise agent straight to ``events`` with its order id (one hop fewer), unless its
batch also holds an event naming that number (then the link agent, in partition order, decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from carriers.base import ParseResult
from carriers.errors import UnknownSource
from wismo.deadletter import DeadLetter
from wismo.events import Event, dump_event, tracking_numbers_named
from wismo.topics import EVENTS, Header, Outgoing, http_headers_of, received_at_of, route


@dataclass(frozen=True, slots=True)
class Where:
    """Where a message was read; becomes the events' ``raw_ref`` and the dead letter's origin."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @classmethod
    def parse(cls, raw_ref: object) -> Where | None:
        """An event's ``raw_ref`` (``topic/partition/offset``) read back; ``None`` if not one."""
        if not isinstance(raw_ref, str):
            return None
        rest, _, offset = raw_ref.rpartition("/")
        topic, _, partition = rest.rpartition("/")
        if not topic or not partition.isdigit() or not offset.isdigit():
            return None
        return cls(topic, int(partition), int(offset))


@dataclass(frozen=True, slots=True)
class Normalised:
    source: str | None
    events: tuple[Event, ...] = ()
    dead_letter: DeadLetter | None = None
    unmapped_codes: tuple[str, ...] = field(default=())


def _parse(source: str, raw: bytes, headers: Mapping[str, str], now: datetime) -> ParseResult:
    from carriers.registry import get

    http_headers = http_headers_of(headers)
    if Header.CONTENT_TYPE.value in headers:
        http_headers.setdefault("content-type", headers[Header.CONTENT_TYPE.value])
    return get(source).parse(raw, http_headers, received_at_of(headers, now))


def normalise(raw: bytes, headers: Mapping[str, str], where: Where, now: datetime) -> Normalised:
    """Parse one raw message. Never raises: whatever cannot become events is a dead letter.

    A payload that is partly valid yields its valid events *and* a dead letter for the rest.
    """
    source = headers.get(Header.SOURCE.value)

    def dead(reason: str, problems: tuple[str, ...] = ()) -> DeadLetter:
        return DeadLetter(
            reason=reason,
            source=source,
            raw=raw,
            headers=dict(headers),
            failed_at=now,
            topic=where.topic,
            partition=where.partition,
            offset=where.offset,
            problems=problems,
        )

    if not source:
        return Normalised(None, dead_letter=dead(f"missing header {Header.SOURCE.value}"))
    try:
        result = _parse(source, raw, headers, now)
    except UnknownSource as error:
        return Normalised(source, dead_letter=dead(str(error.args[0])))
    except Exception as error:  # a parser bug must not stall the partition
        return Normalised(
            source, dead_letter=dead(f"parser error: {type(error).__name__}: {error}")
        )
    received_at = received_at_of(headers, now).astimezone(UTC)
    events = tuple(_stamp(event, received_at, str(where)) for event in result.events)
    letter = None
    if result.fatal:
        letter = dead(result.reason(), tuple(str(p) for p in result.problems))
    elif not events and not result.problems:
        letter = dead("no events in payload")
    # without events, the remaining problems are deliberate ignores (unsupported message types)
    unmapped = tuple(p.raw_code or p.message for p in result.unmapped)
    return Normalised(source, events, letter, unmapped)


def _stamp(event: Event, received_at: datetime, raw_ref: str) -> Event:
    update: dict[str, object] = {}
    if event.received_at is None:
        update["received_at"] = received_at
    if event.raw_ref is None:
        update["raw_ref"] = raw_ref
    return event.model_copy(update=update) if update else event


def linked(event: Event, order_id: str) -> Event:
    """A tracking event joined to its order."""
    return event.model_copy(update={"order_id": order_id})


def scan_numbers(events: Iterable[Event]) -> list[str]:
    """The numbers of a batch's scans (events without an order) that :func:`direct` could send
    straight to their order: not named by an order-side event of the same batch."""
    events = list(events)
    named = {n for e in events if e.order_id is not None for n in tracking_numbers_named(e)}
    numbers = (e.tracking_number for e in events if e.order_id is None and e.tracking_number)
    return list(dict.fromkeys(n for n in numbers if n not in named))


def direct(events: Sequence[Event], links: Mapping[str, str]) -> list[Outgoing]:
    """Where a batch's events go, in order: as :func:`wismo.topics.route` says, except a scan of
    a number ``links`` knows (and :func:`scan_numbers` offered), which goes to ``events`` keyed
    by its order, joined to it, as the link agent would have sent it."""
    offered = set(scan_numbers(events))
    outgoing: list[Outgoing] = []
    for event in events:
        number = event.tracking_number
        order_id = links.get(number) if number in offered and number is not None else None
        if order_id is None:
            outgoing += route(event)
        else:
            outgoing.append(Outgoing(EVENTS, order_id, dump_event(linked(event, order_id))))
    return outgoing
