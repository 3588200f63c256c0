"""GC tuning of long-running processes (run in a child: it changes the interpreter's GC)."""

from __future__ import annotations

import subprocess
import sys

import orjson

_PROBE = """
import gc, orjson
from wismo.gc_tuning import YOUNG_THRESHOLD, tune_gc
kept = [[i] for i in range(10_000)]
tune_gc()
frozen = gc.get_freeze_count()
cycle = []
cycle.append(cycle)
del cycle
print(orjson.dumps({"threshold": gc.get_threshold(), "young": YOUNG_THRESHOLD,
                    "frozen": frozen, "collected": gc.collect()}).decode())
"""


def test_tune_gc_freezes_start_up_objects_and_still_collects_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    report = orjson.loads(done.stdout)
    assert report["threshold"][0] == report["young"] > 700
    assert report["frozen"] >= 10_000  # the start-up objects left the collector's walks
    assert report["collected"] >= 1  # a cycle made afterwards is still found
