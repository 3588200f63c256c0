"""``wismo simulate``: realistic, signed, messy webhook traffic posted to a running API.

The traffic and how it is sent live in :mod:`bench.simulate`; this module parses the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from cli.commands import SubParsers


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="post realistic, signed webhook traffic to a running API",
        description="Post realistic, signed, messy webhook traffic to a running API: orders, "
        "payments, fulfilment, carrier scans, returns and refunds, deterministic for a seed.",
    )
    parser.add_argument(
        "--url", default=None, help="the API (default: the configured api host/port)"
    )
    parser.add_argument("--orders", type=int, default=50, help="orders in the first batch")
    parser.add_argument("--rate", type=float, default=20.0, help="deliveries per second")
    parser.add_argument("--seed", type=int, default=0, help="the same seed, the same traffic")
    parser.add_argument(
        "--days", type=float, default=42.0, help="orders placed over this many days"
    )
    parser.add_argument(
        "--now", type=datetime.fromisoformat, default=None, help="the simulated present (ISO time)"
    )
    parser.add_argument("--forever", action="store_true", help="keep sending new orders")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.simulate import DEMO_EMAIL, Outcome, batches, send, source_secrets
    from wismo.settings import load_settings

    settings = load_settings()
    url = args.url or f"http://{settings.api.host}:{settings.api.port}"
    now = args.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    print(f"wismo simulate: {args.orders} orders to {url} at {args.rate:g}/s", file=sys.stderr)
    print(f"  demo order: number 100000, e-mail {DEMO_EMAIL.format(index=0)}", file=sys.stderr)
    outcome = Outcome()
    try:
        for posts in batches(
            args.orders, seed=args.seed, now=now, days=args.days, forever=args.forever
        ):
            asyncio.run(
                send(url, posts, rate=args.rate, secrets=source_secrets(settings), outcome=outcome)
            )
            print(f"wismo simulate: {outcome.summary()}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"wismo simulate: stopped after {outcome.summary()}", file=sys.stderr)
        return 130
    if outcome.failures:
        print(f"wismo simulate: not delivered: {dict(outcome.failures)}", file=sys.stderr)
        return 1
    return 0
