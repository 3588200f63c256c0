"""Dead letters: what could not be turned into canonical events, kept whole so it can be replayed.

A record holds the reason, the source, where the message was read (topic/partition/offset), its
headers and the raw bytes. Its ``id`` is a digest of source and bytes, so the same bad payload
delivered twice has one id. :func:`replay_records` puts the raw bytes back on the raw topic with
their original headers (plus ``wismo-replay-of``), after a parser fix.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from wismo.ids import digest
from wismo.settings import Settings
from wismo.topics import DEADLETTER, RAW, Header


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    source: str | None
    raw: bytes
    headers: Mapping[str, str]
    failed_at: datetime
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"dlq:{digest(self.source, base64.b64encode(self.raw).decode(), length=24)}"

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "reason": self.reason,
                "source": self.source,
                "failed_at": self.failed_at.astimezone(UTC).isoformat(),
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "problems": list(self.problems),
                "headers": dict(self.headers),
                "raw": base64.b64encode(self.raw).decode(),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> DeadLetter:
        record: dict[str, Any] = orjson.loads(data)
        return cls(
            reason=record["reason"],
            source=record.get("source"),
            raw=base64.b64decode(record["raw"]),
            headers=record.get("headers") or {},
            failed_at=datetime.fromisoformat(record["failed_at"]),
            topic=record.get("topic"),
            partition=record.get("partition"),
            offset=record.get("offset"),
            problems=tuple(record.get("problems") or ()),
        )

    def replay_headers(self) -> list[tuple[str, bytes]]:
        headers = [(k, v.encode()) for k, v in self.headers.items() if k != Header.REPLAY_OF]
        return [*headers, (Header.REPLAY_OF.value, self.id.encode())]


async def read_records(settings: Settings, timeout_s: float = 10.0) -> list[DeadLetter]:
    """Every record on the dead-letter topic, oldest first per partition (no consumer group)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = settings.topic(DEADLETTER)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[DeadLetter] = []
        remaining = {tp: end for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, messages in batch.items():
                for message in messages:
                    if message.value is not None:
                        records.append(DeadLetter.from_json(message.value))
                    if message.offset + 1 >= remaining.get(tp, 0):
                        remaining.pop(tp, None)
        return records
    finally:
        await consumer.stop()


def select(records: Iterable[DeadLetter], ids: Iterable[str] | None) -> list[DeadLetter]:
    """The records to replay: those named (all when ``ids`` is None), one per id."""
    wanted = set(ids) if ids is not None else None
    chosen: dict[str, DeadLetter] = {}
    for record in records:
        if wanted is None or record.id in wanted:
            chosen.setdefault(record.id, record)
    return list(chosen.values())


async def replay_records(settings: Settings, records: Iterable[DeadLetter]) -> int:
    """Put the records' raw bytes back on the raw topic; returns how many were sent."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    sent = 0
    try:
        for record in records:
            delivery_id = record.headers.get(Header.DELIVERY_ID.value)
            await producer.send_and_wait(
                settings.topic(RAW),
                record.raw,
                key=delivery_id.encode() if delivery_id else None,
                headers=record.replay_headers(),
            )
            sent += 1
    finally:
        await producer.stop()
    return sent
