"""``wismo bench rebuild --workers 0,2,0,2``: a repeated workers count gets numbered runs."""

from __future__ import annotations

from typing import Any

from bench.rebuild import _numbered


def test_a_repeated_workers_count_is_numbered_and_the_first_keeps_its_names() -> None:
    summary: dict[str, Any] = {}
    for workers, rate in ((0, 1.0), (2, 2.0), (0, 3.0), (0, 4.0)):
        name = f"rebuild_workers{workers}"
        summary.update(_numbered(summary, {f"{name}_events": 10, f"{name}_events_per_s": rate}))

    assert summary == {
        "rebuild_workers0_events": 10,
        "rebuild_workers0_events_per_s": 1.0,
        "rebuild_workers2_events": 10,
        "rebuild_workers2_events_per_s": 2.0,
        "rebuild_workers0_run2_events": 10,
        "rebuild_workers0_run2_events_per_s": 3.0,
        "rebuild_workers0_run3_events": 10,
        "rebuild_workers0_run3_events_per_s": 4.0,
    }
