"""``wismo bench scale`` and ``wismo bench memory`` at a tiny size, and how keys are grouped.

The runs check that what the scenarios report was really measured (every event counted by the
workers of one consumer group, every order's keys found), never their speed or size.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bench.memory import family, summarise
from bench.scale import Outcome, ScaleOptions
from bench.scale import summarise as scale_summary
from cli.main import main

P = "wismo-bench-abc"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (f"{P}:{{ORD-000001}}:events", "order:events"),
        (f"{P}:{{ORD-000001}}:state", "order:state"),
        (f"{P}:{{ORD-000001}}:contacts", "order:contacts"),
        (f"{P}:track:{{1Z999AA10123456784}}", "track"),
        (f"{P}:park:{{1Z999AA10123456784}}", "park"),
        (f"{P}:lookup:5f2a", "lookup"),
        (f"{P}:api:idx:email:ab12", "agent-search:email"),
        (f"{P}:api:idx:number:1001", "agent-search:number"),
        (f"{P}:{{idx}}:exceptions", "idx:exceptions"),
        (f"{P}:{{retention}}:due", "retention:due"),
        (f"{P}:{{notify}}:msg:m-1", "notify:msg"),
        (f"{P}:{{notify}}:outbox:email", "notify:outbox"),
        (f"{P}:{{poll}}:parcel:1Z999AA10123456784", "poll:parcel"),
    ],
)
def test_every_key_falls_in_its_family(key: str, expected: str) -> None:
    assert family(P, key) == expected


def test_the_development_sinks_are_left_out_of_the_per_order_figure() -> None:
    families = {
        "order:events": (10, 10_000, 0),
        "lookup": (20, 2_000, 0),
        "notify:outbox": (3, 5_000, 0),
    }
    summary = summarise(10, 100, families, used_delta=20_000)
    assert summary["bytes_per_order_memory_usage"] == 1_200
    assert summary["bytes_per_order_used_memory"] == 1_500
    assert summary["keys_per_order"] == 3.0
    assert summary["dev_sink_bytes_excluded"] == 5_000
    assert "family notify:outbox" not in summary


def outcome(workers: int, events: float, seconds: float) -> Outcome:
    return Outcome(workers, events, seconds, 0.0, events, events * 4e-4, 0.0, 0.0, 2 * seconds)


def test_scale_compares_each_run_with_the_first_single_worker() -> None:
    runs = [outcome(1, 1000, 2.0), outcome(2, 1000, 1.0), outcome(1, 1000, 4.0)]
    summary = scale_summary(ScaleOptions(workers=(1, 2, 1)), 1000, runs)
    assert summary["workers_1_events_per_s"] == 500.0
    assert summary["workers_2_to_one_worker"] == 2.0
    assert summary["workers_1_run2_to_one_worker"] == 0.5  # a run again keeps its own keys
    assert summary["workers_2_worker_cpu_us_per_event"] == 400.0
    assert summary["workers_2_machine_cores_busy"] == 2.0


def bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["bench", *args, "--json"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    summary: dict[str, Any] = orjson.loads(lines[-1])
    assert summary["load_1m_before"] >= 0
    return summary


@pytest.mark.slow
def test_scale_counts_every_event_across_the_members_of_one_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = bench(capsys, "scale", "--events", "1000", "--workers", "1,2", "--partitions", "4")
    events = summary["events"]
    assert events > 0
    for workers in (1, 2):
        # every event went through the group (a rebalance may repeat a few: at least once)
        assert summary[f"workers_{workers}_events_counted"] >= events
        per_worker = summary[f"workers_{workers}_per_worker_events"]
        assert len(per_worker) == workers
        assert all(n > 0 for n in per_worker)  # both members of the group had partitions
        # on a loaded machine the group may complete only after the last event: an empty window
        # (and then there is no window to take the CPU per event over either)
        if summary[f"workers_{workers}_events_in_window"]:
            assert summary[f"workers_{workers}_events_per_s"] > 0
            assert summary[f"workers_{workers}_worker_cpu_us_per_event"] > 0
    if summary["workers_1_events_in_window"]:  # a ratio to one worker needs its rate
        assert summary["workers_1_to_one_worker"] == 1.0


@pytest.mark.slow
def test_memory_finds_the_keys_of_every_order(capsys: pytest.CaptureFixture[str]) -> None:
    summary = bench(capsys, "memory", "--orders", "40")
    assert summary["orders"] == 40
    keys = {
        name.removeprefix("family "): int(value.split()[0])
        for name, value in summary.items()
        if name.startswith("family ")
    }
    for name in ("order:events", "order:state", "agent-search:number"):
        assert keys[name] == 40, keys  # one per order
    assert keys["lookup"] >= 40  # one per order number and e-mail or postcode
    assert summary["bytes_per_order_memory_usage"] > 1_000
    assert summary["bytes_per_order_used_memory"] > 0
