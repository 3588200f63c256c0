"""The ``notifications`` row of any record: the columns in order, times in UTC, no recipient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from projections.notify.model import MessageState, NotifyChannel, Record
from projections.sla_notifications import NOTIFICATION_COLUMNS, notification_row

zones = st.builds(
    timezone, st.timedeltas(min_value=-timedelta(hours=14), max_value=timedelta(hours=14))
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones
)
text = st.text(max_size=20)
records = st.builds(
    Record,
    message_id=text,
    order_id=text,
    channel=st.sampled_from(NotifyChannel),
    kind=text,
    recipient_hash=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    state=st.sampled_from(MessageState),
    at=instants,
    triggered_at=instants,
    attempts=st.integers(min_value=-5, max_value=1 << 20),
    reason=st.none() | text,
    endpoint=st.none() | text,
    status_code=st.none() | st.integers(min_value=100, max_value=599),
    latency_ms=st.none() | st.floats(min_value=0, max_value=1e6),
)


@given(records)
def test_a_row_holds_the_record_in_column_order(record: Record) -> None:
    row = dict(zip(NOTIFICATION_COLUMNS, notification_row(record), strict=True))
    assert row["message_id"] == record.message_id
    assert row["channel"] == record.channel.value
    assert row["state"] == record.state.value
    assert row["at"] == record.at
    assert row["at"].tzinfo == UTC
    assert row["triggered_at"] == record.triggered_at
    assert row["triggered_at"].tzinfo == UTC
    assert 0 <= row["attempts"] <= 65535  # UInt16
    assert row["reason"] == (record.reason or "")
    assert row["endpoint"] == (record.endpoint or "")
    assert row["status_code"] == record.status_code
    assert row["latency_ms"] == record.latency_ms
