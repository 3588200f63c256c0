"""``wismo up``: the whole system on embedded defaults, in one process.

Starts what is not configured (the Tansu broker, a Redis, the chDB path), then every role —
normalise, timeline, warehouse, sweeper, api — in this process, and stops it all on Ctrl-C.
``--simulate-orders N`` feeds a generated, messy history of N orders through the raw topic.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from typing import TYPE_CHECKING

from wismo.commands import SubParsers

if TYPE_CHECKING:
    from wismo.settings import Settings


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("up", help="run everything on embedded defaults")
    parser.add_argument(
        "--web-port", type=int, default=6066, help="port of the worker's /metrics and /healthz"
    )
    parser.add_argument(
        "--simulate-orders",
        type=int,
        default=0,
        metavar="N",
        help="publish a simulated history of N orders once the system is up",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated history")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from streams.embedded import EmbeddedServices
    from streams.roles import ROLE_NAMES
    from streams.roles import run as run_roles
    from streams.topics import ensure_topics
    from wismo.settings import load_settings

    with EmbeddedServices(load_settings()) as services:
        settings = services.settings
        asyncio.run(ensure_topics(settings))
        print("wismo up:", file=sys.stderr)
        for line in services.started:
            print(f"  {line}", file=sys.stderr)
        print(f"  metrics    http://127.0.0.1:{args.web_port}/metrics", file=sys.stderr)
        print(f"  health     http://127.0.0.1:{args.web_port}/healthz", file=sys.stderr)
        print(f"  api        http://{settings.api.host}:{settings.api.port}/", file=sys.stderr)
        print(
            f"  raw topic  {settings.topic('raw')} (source in the wismo-source header)",
            file=sys.stderr,
        )
        if args.simulate_orders > 0:
            _simulate_in_background(settings, args.simulate_orders, args.seed)
        print("Ctrl-C stops everything.", file=sys.stderr)
        return run_roles(settings, ROLE_NAMES, web_port=args.web_port)


def _simulate_in_background(settings: Settings, orders: int, seed: int) -> None:
    from streams.simulate import generate, publish

    def feed() -> None:
        history = generate(orders, seed=seed)
        sent = asyncio.run(publish(settings, history.messages))
        print(f"wismo up: published {sent} simulated payloads ({orders} orders)", file=sys.stderr)

    threading.Thread(target=feed, name="simulator", daemon=True).start()
