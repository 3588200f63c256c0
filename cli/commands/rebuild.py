"""``wismo rebuild [--order ID] [--replace] [--refold]``: Redis timelines recomputed from the event
log (with ``--replace``, from the timeline snapshots where they stand in for a refold)."""

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
        "--replace first drops each order's Redis state, and writes an order from its latest "
        "ClickHouse timeline snapshot instead of refolding it when the running fold wrote "
        "that snapshot from exactly the order's logged events (a share of them refolded to "
        "check; a difference refolds everything).",
    )
    parser.add_argument("--order", help="rebuild only this order")
    parser.add_argument(
        "--replace", action="store_true", help="drop each order's Redis state before refolding"
    )
    parser.add_argument(
        "--refold", action="store_true", help="with --replace: refold every order, no snapshots"
    )
    parser.add_argument(
        "--check-share",
        type=_share,
        default=0.02,
        help="share of the orders written from snapshots that are refolded to check them "
        "(0 to 1, default 0.02)",
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


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a share from 0 to 1")
    return share


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
                progress=progress, snapshots=not args.refold, check_share=args.check_share,
            )  # fmt: skip
        finally:
            await ch.close()
    finally:
        await client.aclose()
    if progress is not None:
        print(file=sys.stderr)
    summary = (
        f"rebuilt {report.orders:,} orders from {report.events:,} events in "
        f"{report.seconds:.2f}s ({report.events_per_s:,.0f} events/s); "
        f"{report.changed:,} timelines changed"
    )
    if report.refolded_again:
        return (
            f"{summary}; {report.mismatches:,} of {report.checked:,} checked snapshots differed "
            "from a refold (the fold changed without its fingerprint), so every order was "
            "refolded again"
        )
    if report.from_snapshots:
        summary += (
            f"; {report.from_snapshots:,} orders written from their snapshot, "
            f"{report.checked:,} of them checked against a refold"
        )
    return summary


def run(args: argparse.Namespace) -> int:
    summary = run_on_stores("rebuild", _rebuild(args))
    if summary is None:
        return 2
    print(summary)
    return 0
