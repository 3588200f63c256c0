"""``wismo bench SCENARIO``: benchmarks that report ratios against a baseline from the same run.

Each scenario prints a human table and a JSON summary (``--json`` for the JSON only). Scenarios
live with the code they measure; this module only dispatches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from cli.commands import SubParsers

SCENARIOS = (
    "sla",
    "throughput",
    "latency",
    "hops",
    "reads",
    "fanout",
    "rebuild",
    "notify",
    "scale",
    "memory",
)


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark (results go in the README)")
    scenarios = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    sla = scenarios.add_parser("sla", help="the full SLA report over N events in chDB")
    sla.add_argument("--events", type=int, default=10_000_000)
    sla.add_argument("--repeats", type=int, default=5)
    sla.add_argument(
        "--page-repeats", type=int, default=20, help="runs of each analytics-page query (p95)"
    )
    sla.add_argument("--data-dir", type=Path, help="chDB directory (default: a fresh temp dir)")
    sla.set_defaults(handler=run_sla)

    throughput = scenarios.add_parser(
        "throughput", help="events/s through the timeline agent next to a bare consumer"
    )
    throughput.add_argument("--events", type=int, default=50_000, help="about this many events")
    throughput.add_argument(
        "--duration", type=float, default=600.0, help="longest a single run may take (s)"
    )
    throughput.add_argument("--partitions", type=int, default=4)
    throughput.add_argument("--repeat", type=int, default=2, help="runs per variant (best kept)")
    throughput.add_argument(
        "--arrival",
        choices=("timely", "shuffled"),
        default="timely",
        help="each order's events in time order (live traffic) or in any order (worst case)",
    )
    throughput.set_defaults(handler=run_throughput)

    latency = scenarios.add_parser("latency", help="signed webhook POST → websocket frame")
    latency.add_argument("--rate", type=float, default=500.0, help="webhooks per second")
    latency.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    latency.add_argument("--events", type=int, help="webhooks to send (default: rate * duration)")
    latency.add_argument("--orders", type=int, default=1000, help="orders, one websocket each")
    latency.add_argument(
        "--batch-timeout", type=float, help="the worker's batch wait (default: the setting's)"
    )
    _via_link_agent(latency)
    latency.set_defaults(handler=run_latency)

    rebuilding = scenarios.add_parser(
        "rebuild", help="Redis rebuilt from the ClickHouse log, next to the fold alone"
    )
    rebuilding.add_argument("--events", type=int, default=100_000, help="about this many events")
    rebuilding.add_argument(
        "--workers",
        default="0,2,4",
        help="rebuilding processes per run, comma-separated (a repeated count runs again)",
    )
    rebuilding.set_defaults(handler=run_rebuild)

    hops = scenarios.add_parser(
        "hops", help="the time each topic hop adds to a webhook (Kafka record timestamps)"
    )
    hops.add_argument("--rate", type=float, default=20.0, help="webhooks per second")
    hops.add_argument("--events", type=int, default=200, help="webhooks to send")
    hops.add_argument("--orders", type=int, default=50, help="orders the scans go to")
    hops.add_argument(
        "--batch-timeout", type=float, help="the worker's batch wait (default: the setting's)"
    )
    _via_link_agent(hops)
    hops.set_defaults(handler=run_hops)

    reads = scenarios.add_parser("reads", help="order reads at a fixed rate and at saturation")
    reads.add_argument("--rate", type=float, default=2000.0, help="requests per second")
    reads.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    reads.add_argument("--events", type=int, help="requests at the fixed rate (sets --duration)")
    reads.add_argument("--orders", type=int, default=1000)
    reads.add_argument("--concurrency", type=int, default=32, help="clients at saturation")
    reads.set_defaults(handler=run_reads)

    fanout = scenarios.add_parser("fanout", help="idle websockets on one API process")
    fanout.add_argument("--subscribers", type=int, default=10_000)
    fanout.add_argument("--consoles", type=int, default=1_000, help="agent consoles")
    fanout.add_argument("--events", type=int, default=10, help="broadcasts per phase")
    fanout.add_argument(
        "--duration", type=float, default=60.0, help="longest a broadcast may take (s)"
    )
    fanout.add_argument(
        "--no-deflate", action="store_true", help="clients do not offer permessage-deflate"
    )
    fanout.add_argument(
        "--ws-compress",
        action=argparse.BooleanOptionalAction,
        help="the API accepts permessage-deflate (default: the api.ws_compress setting, off)",
    )
    fanout.set_defaults(handler=run_fanout)

    notify = scenarios.add_parser(
        "notify", help="e-mails and webhooks/s into the development sinks beside bare loops"
    )
    notify.add_argument("--events", type=int, default=3000, help="messages per phase")
    notify.add_argument("--duration", type=float, default=20.0, help="longest a phase may take")
    notify.add_argument("--smtp-connections", type=int, default=16, help="pooled SMTP connections")
    notify.add_argument("--concurrency", type=int, default=16, help="webhooks in flight")
    notify.add_argument("--repeat", type=int, default=3, help="runs per phase (best kept)")
    notify.set_defaults(handler=run_notify)

    scale = scenarios.add_parser(
        "scale", help="1, 2 and 4 timeline processes in one consumer group, against one"
    )
    scale.add_argument("--events", type=int, default=50_000, help="about this many events")
    scale.add_argument("--partitions", type=int, default=8)
    scale.add_argument("--workers", default="1,2,4", help="worker processes per run, in order")
    scale.add_argument(
        "--duration", type=float, default=600.0, help="longest a single run may take (s)"
    )
    scale.set_defaults(handler=run_scale)

    memory = scenarios.add_parser(
        "memory", help="Redis bytes per live order, by key family (MEMORY USAGE, INFO memory)"
    )
    memory.add_argument("--orders", type=int, default=5_000, help="orders folded")
    memory.set_defaults(handler=run_memory)

    for scenario in scenarios.choices.values():
        scenario.add_argument("--json", action="store_true", help="print only the JSON summary")


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

    from bench.sla import run

    with tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch:
        path = args.data_dir or Path(scratch) / "chdb"
        client = clickhouse_connect.get_client(interface="chdb", path=str(path))
        result = run(client, "bench", args.events, args.repeats, _progress, args.page_repeats)
        client.close()
    print_summary(result.summary(), args.json)
    return 0


def _report(summary: dict[str, Any], load_before: float, json_only: bool) -> int:
    """The summary with the machine's state beside it: these runs share their cores."""
    summary = {
        **summary,
        "cpus": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
    }
    print_summary(summary, json_only)
    return 0


def run_throughput(args: argparse.Namespace) -> int:
    from bench.throughput import EVENTS_PER_ORDER, VARIANTS, run

    load = os.getloadavg()[0]
    orders = max(1, args.events // EVENTS_PER_ORDER)
    summary = run(
        orders,
        args.partitions,
        args.repeat,
        list(VARIANTS),
        1,
        _progress,
        timeout_s=args.duration,
        arrival=args.arrival,
    )
    return _report(summary, load, args.json)


def _via_link_agent(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--via-link-agent",
        action="store_true",
        help="every scan through the tracking topic and the link agent "
        "(kafka.direct_linked_scans off), to compare",
    )


def run_latency(args: argparse.Namespace) -> int:
    from bench.latency import LatencyOptions, run

    load = os.getloadavg()[0]
    options = LatencyOptions(
        orders=args.orders,
        rate=args.rate,
        duration_s=args.duration,
        events=args.events,
        batch_timeout_s=args.batch_timeout,
        direct_linked_scans=not args.via_link_agent,
    )
    return _report(run(options, _progress), load, args.json)


def run_rebuild(args: argparse.Namespace) -> int:
    from bench.rebuild import run
    from cli.runtime.embedded import LOCAL_REDIS_URL
    from wismo.settings import load_settings

    load = os.getloadavg()[0]
    workers = [int(n) for n in args.workers.split(",") if n.strip()]
    redis_url = load_settings().redis.url or LOCAL_REDIS_URL
    with tempfile.TemporaryDirectory(prefix="wismo-bench-") as scratch:
        summary = asyncio.run(
            run(Path(scratch) / "chdb", redis_url, args.events, workers, _progress)
        )
    return _report(summary, load, args.json)


def run_hops(args: argparse.Namespace) -> int:
    from bench.hops import HopsOptions, run

    load = os.getloadavg()[0]
    options = HopsOptions(
        orders=args.orders,
        rate=args.rate,
        events=args.events,
        batch_timeout_s=args.batch_timeout,
        direct_linked_scans=not args.via_link_agent,
    )
    return _report(run(options, _progress), load, args.json)


def run_reads(args: argparse.Namespace) -> int:
    from bench.reads import ReadsOptions, run

    load = os.getloadavg()[0]
    duration = args.events / args.rate if args.events else args.duration
    options = ReadsOptions(
        orders=args.orders, rate=args.rate, duration_s=duration, concurrency=args.concurrency
    )
    return _report(run(options, _progress), load, args.json)


def run_fanout(args: argparse.Namespace) -> int:
    from bench.fanout import FanoutOptions, run

    load = os.getloadavg()[0]
    options = FanoutOptions(
        subscribers=args.subscribers,
        consoles=args.consoles,
        rounds=args.events,
        round_timeout_s=args.duration,
        deflate=not args.no_deflate,
        compress=_ws_compress(args.ws_compress),
    )
    return _report(run(options, _progress), load, args.json)


def _ws_compress(flag: bool | None) -> bool:
    """The API's websocket compression: the flag if given, else the configured setting."""
    if flag is not None:
        return flag
    from wismo.settings import load_settings

    return load_settings().api.ws_compress


def run_notify(args: argparse.Namespace) -> int:
    from bench.notify import NotifyOptions, run

    load = os.getloadavg()[0]
    options = NotifyOptions(
        messages=args.events,
        duration_s=args.duration,
        smtp_connections=args.smtp_connections,
        webhook_concurrency=args.concurrency,
        repeat=args.repeat,
    )
    return _report(run(options, _progress), load, args.json)


def run_scale(args: argparse.Namespace) -> int:
    from bench.scale import ScaleOptions, run
    from bench.throughput import EVENTS_PER_ORDER

    load = os.getloadavg()[0]
    options = ScaleOptions(
        orders=max(1, args.events // EVENTS_PER_ORDER),
        partitions=args.partitions,
        workers=tuple(int(n) for n in args.workers.split(",") if n.strip()),
        timeout_s=args.duration,
    )
    return _report(run(options, _progress), load, args.json)


def run_memory(args: argparse.Namespace) -> int:
    from bench.memory import MemoryOptions, run

    load = os.getloadavg()[0]
    return _report(run(MemoryOptions(orders=args.orders), _progress), load, args.json)
