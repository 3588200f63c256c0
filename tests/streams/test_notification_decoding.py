"""What the warehouse makes of each message on the notifications topic: a record it can store,
or a dead letter that says why (bad JSON, a missing field, a time ClickHouse cannot hold)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from projections.notify.model import Record
from projections.sla_notifications import notification_row
from streams.agents.warehouse import _decode_record_into
from streams.notify.records import encode_record
from tests.projections.notification_data import generate
from wismo.deadletter import DeadLetter

RECORD = generate(random.Random(4), 1).records[0]


def message(value: bytes, offset: int = 7) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="wismo.notifications",
        partition=1,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"N-0000",
        value=value,
        checksum=None,
        serialized_key_size=6,
        serialized_value_size=len(value),
        headers=[("trace", b"abc")],
    )


def decode(value: bytes) -> tuple[list[Record], list[DeadLetter]]:
    records: list[Record] = []
    letters: list[DeadLetter] = []
    _decode_record_into(message(value), records, letters)
    return records, letters


def test_a_record_is_kept_as_it_was_sent() -> None:
    assert decode(encode_record(RECORD)) == ([RECORD], [])


def _with(**fields: object) -> bytes:
    document = orjson.loads(encode_record(RECORD))
    document.update(fields)
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"\xff not json", "not a notification record"),
        (b"[1, 2]", "JSON object"),
        (orjson.dumps({"message_id": "msg_1"}), "order_id"),
        (_with(channel="pigeon"), "pigeon"),
        (_with(at="2026-03-01T10:00:00"), "offset"),
        (_with(at="2999-01-01T00:00:00+00:00"), "outside 1970..2200"),
        (_with(triggered_at="1900-01-01T00:00:00+00:00"), "triggered_at"),
        (_with(attempts="many"), "many"),
    ],
)
def test_what_is_not_a_storable_record_is_dead_lettered(value: bytes, why: str) -> None:
    records, letters = decode(value)
    assert records == []
    (letter,) = letters
    assert letter.reason.startswith("not a notification record")
    assert why in letter.reason
    assert letter.raw == value
    assert (letter.topic, letter.partition, letter.offset) == ("wismo.notifications", 1, 7)
    assert letter.headers == {"trace": "abc"}


def test_an_impossible_status_code_is_stored_as_unknown() -> None:
    odd = replace(RECORD, status_code=99_999, at=datetime(2026, 3, 1, tzinfo=UTC))
    (record,), _ = decode(encode_record(odd))
    assert notification_row(record)[11] is None
