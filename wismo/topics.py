"""wismo's Kafka topics, what their messages hold, and how they are created.

=============  =================  ==============================================================
logical name   key                value
=============  =================  ==============================================================
raw            delivery id        the bytes a source sent; headers carry source, content type,
                                  delivery id and received_at (:class:`RawPayload`)
events         order id           one canonical event (``wismo.events.dump_event``)
tracking       tracking number    a tracking event not yet joined to its order, or a shipment /
                                  return naming the number (the link agent's input)
timeline       order id           a timeline update (JSON: order id, version, status, events)
exceptions     order id           exception lifecycle events (the sweeper's output)
notifications  order id           one outbound message's outcome: sent, failed or suppressed
                                  (the notify role's record, kept in ClickHouse)
deadletter     record id          a dead-letter record (:mod:`wismo.deadletter`)
=============  =================  ==============================================================

Every topic has ``settings.kafka.partitions`` partitions; the full name is
``settings.topic(logical)``, e.g. ``wismo.events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from wismo.events import Event, dump_event, tracking_numbers_named
from wismo.settings import Settings

RAW = "raw"
EVENTS = "events"
TRACKING = "tracking"
TIMELINE = "timeline"
EXCEPTIONS = "exceptions"
DEADLETTER = "deadletter"
NOTIFICATIONS = "notifications"
LOGICAL_TOPICS = (RAW, EVENTS, TRACKING, TIMELINE, EXCEPTIONS, DEADLETTER, NOTIFICATIONS)


class Header(StrEnum):
    SOURCE = "wismo-source"
    CONTENT_TYPE = "content-type"
    DELIVERY_ID = "wismo-delivery-id"
    RECEIVED_AT = "wismo-received-at"
    REPLAY_OF = "wismo-replay-of"
    #: how a raw payload arrived: absent or ``webhook`` (pushed to the API), ``poll`` (the poll
    #: role asked the source's API), ``sync`` (a commerce catch-up)
    ORIGIN = "wismo-origin"


KafkaHeaders = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class RawPayload:
    """What a source delivered, as it travels on the raw topic."""

    source: str
    body: bytes
    received_at: datetime
    content_type: str = "application/json"
    delivery_id: str | None = None
    http_headers: Mapping[str, str] | None = None

    def kafka_headers(self) -> KafkaHeaders:
        headers = [
            (Header.SOURCE.value, self.source.encode()),
            (Header.CONTENT_TYPE.value, self.content_type.encode()),
            (Header.RECEIVED_AT.value, self.received_at.astimezone(UTC).isoformat().encode()),
        ]
        if self.delivery_id is not None:
            headers.append((Header.DELIVERY_ID.value, self.delivery_id.encode()))
        # the source's own HTTP headers travel too: parsers read signatures and event types there
        for name, value in (self.http_headers or {}).items():
            headers.append((f"http-{name.lower()}", value.encode()))
        return headers

    @property
    def key(self) -> bytes | None:
        return self.delivery_id.encode() if self.delivery_id is not None else None


def decode_headers(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> dict[str, str]:
    """Kafka headers as text, names lower-cased; undecodable bytes are replaced, never fatal."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name.lower(): value.decode("utf-8", "replace") for name, value in items if value is not None
    }


def http_headers_of(headers: Mapping[str, str]) -> dict[str, str]:
    """The source's HTTP headers carried in the Kafka headers (``http-`` prefix removed)."""
    return {name[5:]: value for name, value in headers.items() if name.startswith("http-")}


def received_at_of(headers: Mapping[str, str], fallback: datetime) -> datetime:
    text = headers.get(Header.RECEIVED_AT.value)
    if text is None:
        return fallback
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def topic_names(settings: Settings) -> dict[str, str]:
    """Logical name → full Kafka topic name."""
    return {logical: settings.topic(logical) for logical in LOGICAL_TOPICS}


async def ensure_topics(settings: Settings) -> None:
    """Create wismo's topics where they are missing (idempotent; safe from several processes)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topic_names(settings).values() if name not in existing]
        if missing:
            new = [
                NewTopic(name, settings.kafka.partitions, settings.kafka.replication_factor)
                for name in missing
            ]
            response: Any = await admin.create_topics(new)
            _raise_unless_created_or_exists(response)
    finally:
        await admin.close()


_TOPIC_ALREADY_EXISTS = 36


def _raise_unless_created_or_exists(response: Any) -> None:
    from aiokafka.errors import for_code

    for name, code, *_ in response.topic_errors:
        if code not in (0, _TOPIC_ALREADY_EXISTS):
            raise for_code(code)(f"creating topic {name}")


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str  # logical topic name
    key: str
    value: bytes


def route(event: Event) -> list[Outgoing]:
    """The messages one canonical event becomes.

    An event that names its order goes to ``events`` keyed by the order id; a tracking event
    that does not (yet) goes to ``tracking`` keyed by its tracking number, where the link agent
    joins it to its order or parks it; a shipment or return naming tracking numbers *also* goes
    to ``tracking`` once per number, so the link agent learns the link on the same partition,
    after any scan that came before it, and releases what it parked.
    """
    value = dump_event(event)
    if event.order_id is None:
        assert event.tracking_number is not None  # the envelope guarantees one of the two
        return [Outgoing(TRACKING, event.tracking_number, value)]
    outgoing = [Outgoing(EVENTS, event.order_id, value)]
    outgoing += [Outgoing(TRACKING, number, value) for number in tracking_numbers_named(event)]
    return outgoing
