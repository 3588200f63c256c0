"""The status line's reading of the worker's metrics, and where the logs go."""

from __future__ import annotations

import json
import logging
import logging.config
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from cli.runtime.status import Reading, line, reading
from streams.logs import LOG_FILE_ENV, LOG_STREAM_ENV, WarningTally, logging_config
from streams.metrics import StreamMetrics


def test_the_reading_takes_the_busiest_agent_and_sums_the_lag() -> None:
    metrics = StreamMetrics(CollectorRegistry())
    metrics.events_in.labels("normalise", "order.placed").inc(7)
    metrics.events_in.labels("normalise", "shipment.delivered").inc(5)
    metrics.events_in.labels("timeline", "order.placed").inc(6)
    metrics.events_in.labels("exceptions", "exception.opened").inc(3)
    metrics.events_in.labels("exceptions", "exception.resolved").inc(1)
    metrics.consumer_lag.labels("raw", "0").set(3)
    metrics.consumer_lag.labels("raw", "1").set(4)
    now = reading(generate_latest(metrics.registry).decode())
    assert now == Reading(events=12, orders=7, exceptions=2, lag=7)


def test_the_line_says_the_rate_and_warnings_with_the_log_path() -> None:
    before, now = Reading(events=100), Reading(events=150, orders=9, exceptions=1, lag=2)
    quiet = line(now, before, 10.0, 4, 0, "logs/wismo.log")
    assert quiet == "   5.0 events/s · 9 orders · 1 open exceptions · 4 messages sent · lag 2"
    assert line(now, before, 10.0, 4, 3, "logs/wismo.log").endswith(
        " · 3 warning(s): logs/wismo.log"
    )
    healing = "1/2 dropped webhooks healed by polling"
    assert line(now, before, 10.0, 4, 3, "logs/wismo.log", healing).endswith(
        f" · lag 2 · {healing} · 3 warning(s): logs/wismo.log"
    )


def test_logs_go_to_the_file_as_json_and_warnings_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wismo.log"
    monkeypatch.setenv(LOG_FILE_ENV, str(path))
    monkeypatch.setenv(LOG_STREAM_ENV, "none")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config("INFO"))
        counted = WarningTally.count
        logging.getLogger("wismo.test").info("calm", extra={"order_id": "O-1"})
        logging.getLogger("wismo.test").warning("loud")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = handlers, level
    records = [json.loads(text) for text in path.read_text().splitlines()]
    assert [(r["level"], r["msg"]) for r in records] == [("info", "calm"), ("warning", "loud")]
    assert records[0]["order_id"] == "O-1"
    assert WarningTally.count == counted + 1
    captured = capsys.readouterr()
    assert "calm" not in captured.err + captured.out


def test_the_stream_is_stdout_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOG_FILE_ENV, raising=False)
    monkeypatch.setenv(LOG_STREAM_ENV, "stdout")
    config = logging_config("INFO")
    assert config["handlers"]["stream"]["stream"] == "ext://sys.stdout"
    assert "file" not in config["handlers"]
    monkeypatch.delenv(LOG_STREAM_ENV)
    assert logging_config("INFO")["handlers"]["stream"]["stream"] == "ext://sys.stderr"
