"""``wismo bench SCENARIO``: benchmarks that report ratios against a baseline from the same run.

Each scenario prints a human table and a JSON summary (``--json`` for the JSON only). Scenarios
live with the code they measure; this module only dispatches.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from wismo.commands import SubParsers

SCENARIOS = ("sla",)


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark (results go in the README)")
    scenarios = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    sla = scenarios.add_parser("sla", help="the full SLA report over N events in chDB")
    sla.add_argument("--events", type=int, default=10_000_000)
    sla.add_argument("--repeats", type=int, default=5)
    sla.add_argument("--data-dir", type=Path, help="chDB directory (default: a fresh temp dir)")
    sla.add_argument("--json", action="store_true", help="print only the JSON summary")
    sla.set_defaults(handler=run_sla)


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def print_summary(summary: dict[str, Any], json_only: bool) -> None:
    if not json_only:
        width = max(len(key) for key in summary)
        for key, value in summary.items():
            print(f"{key.ljust(width)}  {value}")
    sys.stdout.buffer.write(orjson.dumps(summary) + b"\n")


def run_sla(args: argparse.Namespace) -> int:
    import clickhouse_connect

    from projections.sla_bench import run

    with tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch:
        path = args.data_dir or Path(scratch) / "chdb"
        client = clickhouse_connect.get_client(interface="chdb", path=str(path))
        result = run(client, "bench", args.events, args.repeats, _progress)
        client.close()
    print_summary(result.summary(), args.json)
    return 0
