"""The pure part of ``wismo bench hops``: hop times from POST times and record timestamps."""

from __future__ import annotations

import pytest

from bench.hops import hop_summary, span_summary


def test_each_hop_is_measured_over_the_scans_seen_at_both_of_its_ends() -> None:
    posted = {0: 100.000, 1: 101.000, 2: 102.000}
    stamps = {
        "raw": {0: 100.002, 1: 101.003, 2: 102.001},
        "tracking": {0: 100.012, 1: 101.023},  # scan 2 never normalised
        "events": {0: 100.030, 1: 101.033},
        "timeline": {0: 100.040, 1: 101.053, 7: 90.0},  # 7: not one of ours
    }
    summary = hop_summary(posted, stamps)
    assert summary["posted"] == 3
    assert summary["seen_raw"] == 3
    assert summary["seen_tracking"] == summary["seen_timeline"] == 2
    assert summary["post_to_raw_max_ms"] == pytest.approx(3.0)
    assert summary["normalise_p50_ms"] == pytest.approx(10.0)
    assert summary["normalise_max_ms"] == pytest.approx(20.0)
    assert summary["link_max_ms"] == pytest.approx(18.0)
    assert summary["timeline_p50_ms"] == pytest.approx(10.0)
    assert summary["post_to_commit_max_ms"] == pytest.approx(53.0)


def test_a_hop_nobody_crossed_has_no_percentiles() -> None:
    summary = hop_summary({0: 1.0}, {"raw": {}, "tracking": {}, "events": {}, "timeline": {}})
    assert summary["seen_raw"] == 0
    assert summary["normalise_p50_ms"] is None


def test_spans_split_each_agents_hop_over_the_batches_taken_in_the_window() -> None:
    # (record timestamp, fetched, received, buffered) per record; taken and done per batch
    lines = [
        {"agent": "link", "taken": 10.010, "done": 10.015,
         "records": [[10.000, 10.004, 10.005, 10.006], [10.001, 10.004, 10.005, 10.007]]},
        {"agent": "link", "taken": 99.0, "done": 99.1, "records": [[98.0, 98.5, 98.6, 98.7]]},
        {"agent": "timeline", "taken": 10.020, "done": 10.030,
         "records": [[10.015, None, 10.017, 10.018]]},
    ]  # fmt: skip
    summary = span_summary(lines, since=10.0, until=20.0)
    assert summary["link_batches"] == 1  # the batch taken at 99 s is outside the window
    assert summary["link_batch_max"] == 2
    assert summary["link_fetch_max_ms"] == pytest.approx(4.0)
    assert summary["link_handover_p50_ms"] == pytest.approx(1.0)
    assert summary["link_batch_wait_max_ms"] == pytest.approx(4.0)
    assert summary["link_work_p50_ms"] == pytest.approx(5.0)
    assert summary["timeline_fetch_p50_ms"] is None  # never stamped: left out
    assert summary["timeline_stream_p50_ms"] == pytest.approx(1.0)
    assert summary["normalise_batches"] == 0
    assert summary["normalise_work_p50_ms"] is None
