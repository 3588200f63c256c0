"""``wismo fold FILE``: the timeline of the canonical events in FILE (JSON lines, any order)."""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO

from cli.commands import SubParsers


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "fold",
        help="fold canonical events (JSON lines) into order timelines",
        description=(
            "Reads canonical events, one JSON object per line, in any order and with any "
            "duplication, and prints the order timeline as JSON. With events of several "
            "orders, prints one compact timeline per line, ordered by order_id."
        ),
    )
    parser.add_argument("file", help="JSON-lines file of canonical events, or - for stdin")
    parser.add_argument("--order", help="fold only this order")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="report invalid lines on stderr but fold the valid ones (exit 0)",
    )
    parser.add_argument("--compact", action="store_true", help="one line, no indentation")
    parser.set_defaults(handler=run)


def _open(path: str) -> BinaryIO:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def run(args: argparse.Namespace) -> int:
    from projections.ordering import group_by_order
    from projections.serialize import timeline_to_json
    from projections.timeline import fold
    from wismo.event_lines import read_event_lines

    try:
        with _open(args.file) as stream:
            events, problems = read_event_lines(stream)
    except OSError as error:
        print(f"wismo fold: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if problems and not args.skip_invalid:
        print(f"wismo fold: {len(problems)} invalid line(s); nothing folded", file=sys.stderr)
        return 2
    by_order, unlinked = group_by_order(events)
    if len(by_order) != 1:
        orphans, unlinked = [], unlinked
    else:
        # with one order in the file, its unlinked scans are its orphans
        orphans, unlinked = unlinked, []
    if args.order is not None:
        by_order = {args.order: by_order.get(args.order, [])}
    if len(by_order) == 1:
        ((order_id, order_events),) = by_order.items()
        timeline = fold([*order_events, *orphans], order_id=order_id)
        sys.stdout.buffer.write(timeline_to_json(timeline, indent=not args.compact) + b"\n")
        return 0
    if not by_order:
        print("wismo fold: no order events in the input", file=sys.stderr)
        return 2
    for order_id in sorted(by_order):
        sys.stdout.buffer.write(timeline_to_json(fold(by_order[order_id], order_id)) + b"\n")
    if unlinked:
        print(
            f"wismo fold: {len(unlinked)} tracking event(s) name no known shipment", file=sys.stderr
        )
    return 0
