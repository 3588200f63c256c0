"""``wismo up``: run the whole system on its embedded defaults."""

from __future__ import annotations

import argparse
import sys

from wismo.commands import SubParsers

NOT_YET = (
    "embedded Kafka (Tansu), Redis and chDB launcher",
    "stream workers (normalise, link, timeline, warehouse, sweeper)",
    "API, websockets and the status page / agent console",
    "simulated traffic",
)


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("up", help="run everything on embedded defaults")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print("wismo up: the running system is not assembled yet. Missing:", file=sys.stderr)
    for part in NOT_YET:
        print(f"  - {part}", file=sys.stderr)
    print("Available now: wismo fold, wismo schema.", file=sys.stderr)
    return 1
