"""Metrics and structured logs of a worker."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import orjson

from streams.logs import JsonFormatter
from streams.metrics import StreamMetrics
from wismo.events import event_from_dict

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def test_freshness_is_measured_from_occurred_at_and_received_at() -> None:
    metrics = StreamMetrics()
    event = event_from_dict(
        {
            "event_id": "ups:s1",
            "source": "ups",
            "kind": "tracking.checkpoint",
            "tracking_number": "1Z999AA1",
            "occurred_at": (NOW - timedelta(hours=2)).isoformat(),
            "received_at": (NOW - timedelta(seconds=3)).isoformat(),
            "payload": {"status": "in_transit"},
        }
    )
    metrics.observe_freshness([event], now=NOW)
    text = metrics.exposition().decode()
    assert "wismo_freshness_occurred_seconds_sum 7200.0" in text
    assert "wismo_freshness_received_seconds_sum 3.0" in text


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = StreamMetrics(), StreamMetrics()
    first.dead_letters.labels("oms").inc()
    assert 'wismo_dead_letters_total{source="oms"} 1.0' in first.exposition().decode()
    assert "wismo_dead_letters_total{" not in second.exposition().decode()


def test_log_records_are_json_lines_with_their_extra_fields() -> None:
    record = logging.LogRecord("streams.x", logging.WARNING, __file__, 1, "lag %d", (7,), None)
    record.partition = 3
    line = JsonFormatter().format(record)
    document = orjson.loads(line)
    assert document["level"] == "warning"
    assert document["msg"] == "lag 7"
    assert document["logger"] == "streams.x"
    assert document["partition"] == 3
    assert "\n" not in line
