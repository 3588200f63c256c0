"""Each ``wismo bench`` scenario, run through the command line at a tiny size.

These check that a scenario runs end to end on the real embedded stack and that what it reports
was really measured (every request answered, every event counted, every websocket reached);
they never judge speed, which the full-size runs in the README do.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from cli.main import main

pytestmark = pytest.mark.slow


def bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["bench", *args, "--json"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summary: dict[str, Any] = orjson.loads(lines[-1])
    assert summary["cpus"] >= 1
    assert summary["load_1m_before"] >= 0
    return summary


def test_throughput_counts_every_event_in_every_variant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = bench(capsys, "throughput", "--events", "600", "--repeat", "1")
    events = summary["events"]
    assert events > 0
    for variant in ("kafka", "noop", "timeline", "timeline_warehouse"):
        assert summary[f"{variant}_events_counted"] >= events
        assert summary[f"{variant}_events_per_s"] > 0
    assert summary["timeline_warehouse_to_noop"] == pytest.approx(
        summary["timeline_warehouse_events_per_s"] / summary["noop_events_per_s"], abs=1e-3
    )


def test_latency_sees_every_accepted_webhook_on_a_websocket(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = bench(capsys, "latency", "--orders", "10", "--rate", "20", "--duration", "1")
    assert summary["posted"] == 20
    assert summary["accepted"] == 20
    assert summary["shown"] == summary["accepted"]
    assert summary["lost"] == 0
    assert summary["websockets"] == summary["orders"] == 10
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]


def test_reads_answers_every_request_from_the_api_and_the_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = bench(
        capsys,
        "reads",
        "--orders",
        "20",
        "--rate",
        "100",
        "--duration",
        "1",
        "--concurrency",
        "4",
    )
    for phase in ("baseline_fixed", "api_fixed"):
        assert summary[f"{phase}_requests"] == 100
        assert summary[f"{phase}_ok"] == 100
    for phase in ("baseline_saturated", "api_saturated"):
        assert summary[f"{phase}_ok"] == summary[f"{phase}_requests"] > 0
        assert summary[f"{phase}_p50_ms"] <= summary[f"{phase}_max_ms"]
    assert summary["saturation_ratio_to_baseline"] == pytest.approx(
        summary["api_saturated_req_per_s"] / summary["baseline_saturated_req_per_s"], abs=1e-3
    )


def test_fanout_reaches_every_connection_and_the_slow_client_catches_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = bench(capsys, "fanout", "--subscribers", "50", "--consoles", "10", "--events", "2")
    assert summary["customer_websockets"] == 50
    assert summary["agent_consoles"] == 10
    assert summary["rss_idle_mb"] > summary["rss_before_mb"] > 0
    for phase in ("broadcast", "with_slow_client"):
        for group in ("customers", "consoles"):
            assert summary[f"{phase}_{group}_max_ms"] > 0
    assert summary["slow_client_caught_up"] is True
    # it really stopped reading: the large order's updates piled up for it meanwhile
    assert summary["slow_client_kb_held"] > 500


@pytest.mark.parametrize("via_link_agent", [False, True])
def test_hops_finds_every_scan_on_every_topic_it_takes(
    capsys: pytest.CaptureFixture[str], via_link_agent: bool
) -> None:
    flags = ["--via-link-agent"] if via_link_agent else []
    summary = bench(capsys, "hops", "--orders", "5", "--rate", "20", "--events", "10", *flags)
    assert summary["posted"] == 10
    assert summary["direct_linked_scans"] is not via_link_agent
    for topic in ("raw", "events", "timeline"):
        assert summary[f"seen_{topic}"] == 10
    # the orders are shipped first: their scans skip the tracking topic unless told not to
    assert summary["seen_tracking"] == (10 if via_link_agent else 0)
    hops = ["post_to_raw", "raw_to_events", "timeline", "post_to_commit"]
    for hop in hops + (["normalise", "link"] if via_link_agent else []):
        assert summary[f"{hop}_p50_ms"] is not None
    assert summary["post_to_commit_p50_ms"] >= summary["post_to_raw_p50_ms"]


def test_rebuild_refolds_every_logged_event_next_to_the_fold_alone() -> None:
    # chDB allows one engine per process: the scenario runs in a process of its own
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "rebuild", "--events", "300", "--json",
         "--workers", "0"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    summary = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert summary["events"] > 250
    assert summary["rebuild_workers0_events"] == summary["events"]
    assert summary["prepare_events_per_s"] > 0
    assert summary["rebuild_workers0_to_prepare"] == pytest.approx(
        summary["rebuild_workers0_events_per_s"] / summary["prepare_events_per_s"], abs=1e-3
    )


def test_sla_reports_over_copies_of_generated_orders() -> None:
    # chDB allows one engine per process: the scenario runs in a process of its own
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "sla", "--events", "3000", "--repeats", "2",
         "--page-repeats", "3", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    summary = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert 2000 < summary["events"] < 4000
    assert summary["orders"] > 100
    assert len(summary["report_runs_s"]) == 2
    assert summary["report_vs_baseline"] is not None
    # every query behind the analytics page, from the kept aggregates and in plain SQL
    assert summary["refresh_s"] > 0
    assert summary["plain_report_median_s"] > 0
    assert {"delivery_by_carrier_week", "exceptions_by_carrier", "predictions"} <= set(
        summary["page"]
    )
    for query in summary["page"].values():
        assert 0 < query["p50_ms"] <= query["p95_ms"]
        assert 0 < query["plain_p50_ms"] <= query["plain_p95_ms"]
