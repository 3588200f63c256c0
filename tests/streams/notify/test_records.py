"""Outcome records round-trip through their JSON and carry no recipient in clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.notify.model import Message, MessageState, NotifyChannel, Record
from streams.notify.records import decode_record, encode_record, recipient_hash, record_for

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
text = st.text(min_size=1, max_size=30)
records = st.builds(
    Record,
    message_id=text,
    order_id=text,
    channel=st.sampled_from(NotifyChannel),
    kind=text,
    recipient_hash=st.text("0123456789abcdef", min_size=64, max_size=64),
    state=st.sampled_from(MessageState),
    at=times,
    triggered_at=times,
    attempts=st.integers(0, 1000),
    reason=st.none() | text,
    endpoint=st.none() | text,
    status_code=st.none() | st.integers(100, 599),
    latency_ms=st.none() | st.floats(0, 1e6),
)


@given(records)
def test_a_record_round_trips(record: Record) -> None:
    assert decode_record(encode_record(record)) == record


def test_the_recipient_travels_hashed() -> None:
    message = Message(
        key="O1|shipped|S1|email|ann@example.com",
        order_id="O1",
        channel=NotifyChannel.EMAIL,
        recipient="Ann@Example.com",
        kind="shipped",
        subject="S1",
        payload={},
        triggered_at=T,
        due_at=T,
    )
    record = record_for(message, MessageState.SENT, T + timedelta(seconds=3), attempts=1)
    encoded = encode_record(record)
    assert b"example.com" not in encoded.lower()
    assert record.recipient_hash == recipient_hash("ann@example.com")
    assert record.endpoint is None
    assert decode_record(encoded).message_id == message.message_id


@pytest.mark.parametrize("value", [b"[]", b"{}", b"not json", b'{"message_id": 1}'])
def test_anything_else_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError, match="record"):
        decode_record(value)
