"""The intake journal: every message the API hands to the broker, on disk before it is sent.

The embedded Tansu broker keeps its topics in memory (its build has no durable storage engine),
so a ``kill -9`` of ``wismo up`` loses whatever the stream had not yet carried into Redis and
ClickHouse. The journal closes that gap: :class:`JournalingProducer` appends each message to the
current segment file under ``<data_dir>/journal`` *before* sending it, so anything answered 202
is on disk. A segment is dropped only once the stream has carried it into both stores
(:mod:`cli.runtime.settle`); a start replays whatever segments are left. Downstream, replays are
harmless: event ids are deterministic, Redis keeps one copy per event id and ClickHouse
deduplicates (``ReplacingMergeTree``, read with ``FINAL``).

A record is written with one ``write(2)`` on a file opened ``O_APPEND``: it reaches the kernel
before the send starts, so it survives the death of the process (not of the machine: there is
no fsync per record). A record cut short by a crash mid-write was never answered 202 and is
skipped on reading.
"""

from __future__ import annotations

import base64
import logging
import os
import struct
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_SUFFIX = ".seg"


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def encode(self) -> bytes:
        document = {
            "topic": self.topic,
            "key": _b64(self.key),
            "value": _b64(self.value),
            "headers": [[name, _b64(value)] for name, value in self.headers],
        }
        body = orjson.dumps(document)
        return _LENGTH.pack(len(body)) + body

    @classmethod
    def decode(cls, body: bytes) -> Record:
        document = orjson.loads(body)
        return cls(
            topic=document["topic"],
            key=_unb64(document["key"]),
            value=_unb64(document["value"]),
            headers=tuple((name, _unb64(value) or b"") for name, value in document["headers"]),
        )


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


def read_segment(path: Path) -> Iterator[Record]:
    """The whole records of a segment file, in order (a torn last record is skipped)."""
    data = path.read_bytes()
    offset = 0
    while offset + _LENGTH.size <= len(data):
        (size,) = _LENGTH.unpack_from(data, offset)
        start = offset + _LENGTH.size
        if start + size > len(data):
            log.warning("journal %s: a record cut short at byte %d is skipped", path, offset)
            return
        yield Record.decode(data[start : start + size])
        offset = start + size


class Journal:
    """Numbered segment files in ``directory``; appends go to the newest (the open one).

    :meth:`seal` closes the open segment and starts the next; a sealed segment is *settled*
    once every send of its records has finished (acknowledged or failed), and may be
    :meth:`drop`-ped once the stores hold what it carried.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        self._current = (existing[-1] + 1) if existing else 1
        self._fd: int | None = None
        self._records = 0
        self._in_flight: dict[int, int] = {}

    def segments(self) -> list[int]:
        """Every segment on disk, oldest first (the open one included)."""
        numbers = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            if path.stem.isdigit():
                numbers.append(int(path.stem))
        return sorted(numbers)

    def path(self, segment: int) -> Path:
        return self.directory / f"{segment:010d}{_SUFFIX}"

    @property
    def current(self) -> int:
        return self._current

    @property
    def current_records(self) -> int:
        return self._records

    def append(self, record: Record) -> int:
        """Write ``record`` to the open segment; returns the segment's number."""
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._fd = os.open(self.path(self._current), flags, 0o600)
        data = record.encode()
        written = os.write(self._fd, data)
        if written != len(data):
            raise OSError(f"journal: short write ({written} of {len(data)} bytes)")
        self._records += 1
        return self._current

    def hold(self, segment: int) -> None:
        self._in_flight[segment] = self._in_flight.get(segment, 0) + 1

    def release(self, segment: int) -> None:
        left = self._in_flight.get(segment, 0) - 1
        if left > 0:
            self._in_flight[segment] = left
        else:
            self._in_flight.pop(segment, None)

    def seal(self) -> int:
        """Close the open segment and start the next; returns the sealed segment's number."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        sealed = self._current
        self._current += 1
        self._records = 0
        return sealed

    def settled(self, segment: int) -> bool:
        return segment != self._current and segment not in self._in_flight

    def drop(self, segment: int) -> None:
        if segment == self._current:
            raise ValueError("the open journal segment cannot be dropped")
        self.path(segment).unlink(missing_ok=True)

    def records(self, segment: int) -> Iterator[Record]:
        path = self.path(segment)
        return read_segment(path) if path.exists() else iter(())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class JournalingProducer:
    """The API's producer with the journal in front: each message is journaled, then sent.

    Has what :class:`api.kafka.Producer` needs (``send``) and forwards the rest (``stop``,
    ``flush``) to the aiokafka producer it wraps.
    """

    def __init__(self, producer: Any, journal: Journal) -> None:
        self.producer = producer
        self.journal = journal

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        segment = self.journal.append(Record(topic, key, value, tuple(headers or ())))
        self.journal.hold(segment)
        try:
            future = await self.producer.send(
                topic,
                value,
                key=key,
                partition=partition,
                timestamp_ms=timestamp_ms,
                headers=list(headers) if headers is not None else None,
            )
        except BaseException:
            self.journal.release(segment)
            raise
        future.add_done_callback(lambda _: self.journal.release(segment))
        awaitable: Awaitable[Any] = future
        return awaitable

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


async def replay(journal: Journal, producer: Any) -> int:
    """Send every record of the segments on disk again (after a crash); returns how many.

    The open segment is sealed first, so the replayed segments are settled once sent and are
    dropped by the usual checkpoint when the stores hold them.
    """
    journal.seal()
    sent = 0
    for segment in journal.segments():
        if segment == journal.current:
            continue
        futures = [
            await producer.send(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
            for record in journal.records(segment)
        ]
        for future in futures:
            await future
        sent += len(futures)
    return sent
