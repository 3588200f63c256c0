"""``wismo rebuild [--order ID] [--replace]``: Redis timelines recomputed from the event log."""

from __future__ import annotations

import argparse
import sys
import time

from cli.commands import SubParsers, run_on_stores


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "rebuild",
        help="recompute Redis timelines from the ClickHouse event log",
        description="Folds every order's events from the ClickHouse log into Redis with the "
        "same fold the live path uses. By default merges (safe while workers run); with "
        "--replace first drops each order's Redis state.",
    )
    parser.add_argument("--order", help="rebuild only this order")
    parser.add_argument(
        "--replace", action="store_true", help="drop each order's Redis state before refolding"
    )
    parser.add_argument("--batch", type=int, default=5000, help="events per Redis batch")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes folding and writing the timelines while this one reads the log "
        "(default 0: all in this process; helps only with idle cores)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


class ProgressBar:
    """A one-line progress bar on stderr (events done of the total, rate)."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.started = time.perf_counter()

    def __call__(self, events: int, orders: int) -> None:
        done = min(events / self.total, 1.0)
        rate = events / max(time.perf_counter() - self.started, 1e-9)
        bar = "#" * int(done * 30)
        print(
            f"\r[{bar:<30}] {done:6.1%} {events:,} events, {orders:,} orders, {rate:,.0f} ev/s",
            end="",
            file=sys.stderr,
            flush=True,
        )


async def _rebuild(args: argparse.Namespace) -> str:
    from cli.runtime.embedded import store_settings
    from projections.clickhouse_store import ClickHouse, ClickHouseStore
    from projections.connections import redacted, redis_client
    from projections.rebuild import rebuild
    from projections.rebuild_workers import StoreRecipe
    from projections.redis_store import RedisTimelineStore
    from wismo.settings import load_settings

    settings = store_settings(load_settings())
    client = await redis_client(settings)
    try:
        ch = await ClickHouse.connect(settings)
        try:
            log = ClickHouseStore(ch)
            redis = RedisTimelineStore(
                client,
                settings.redis.key_prefix,
                url=redacted(settings.redis.url or ""),
                retention_s=settings.retention.redis_s,
            )
            recipe = StoreRecipe.of(
                settings, settings.redis.key_prefix, retention_s=settings.retention.redis_s
            )
            progress = None if args.quiet else ProgressBar(await log.count_events())
            report = await rebuild(
                log, redis, order_id=args.order, replace=args.replace,
                batch_events=args.batch, workers=args.workers, recipe=recipe,
                progress=progress,
            )  # fmt: skip
        finally:
            await ch.close()
    finally:
        await client.aclose()
    if progress is not None:
        print(file=sys.stderr)
    return (
        f"rebuilt {report.orders:,} orders from {report.events:,} events in "
        f"{report.seconds:.2f}s ({report.events_per_s:,.0f} events/s); "
        f"{report.changed:,} timelines changed"
    )


def run(args: argparse.Namespace) -> int:
    summary = run_on_stores("rebuild", _rebuild(args))
    if summary is None:
        return 2
    print(summary)
    return 0
