"""``wismo sync shopify|salesforce-om --since T|AGE [--until T] [--schedule SECONDS]``: commerce
catch-up, the platform's orders and fulfilments fed to the raw topic as if pushed.

The paging, retries, cursor and payloads are :mod:`cli.runtime.sync`; this module parses the
command line, finds the broker and Redis (configured, else the ones ``wismo up`` recorded), shows
a progress bar on stderr and, with ``--schedule``, runs again every N seconds from the cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cli.commands import SubParsers

if TYPE_CHECKING:
    from cli.runtime.sync import SyncRun
    from wismo.settings import Settings


_AGE = re.compile(r"^(\d+)([dhm])$")
_AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def when(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time or date on the command line (without a zone it is UTC), or an age before
    ``now`` (``2d``, ``12h``, ``30m``: what a schedule passes)."""
    age = _AGE.match(text.strip())
    if age is not None:
        delta = timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
        return (now or datetime.now(UTC)) - delta
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not an ISO 8601 time or date, nor an age: {text!r} "
                "(e.g. 2026-11-30T08:00:00Z, 2026-11-30, 2d, 12h)"
            ) from None
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="catch up a commerce platform's orders and fulfilments",
        description="Page through a platform's orders and fulfilments changed since a time and "
        "feed them to the raw topic, as if the platform had pushed them. Resumes from the cursor "
        "kept in Redis; credentials from WISMO_POLL__CARRIERS__<SOURCE>__….",
    )
    parser.add_argument("platform", choices=("shopify", "salesforce-om"))
    parser.add_argument(
        "--since",
        type=when,
        required=True,
        help="changed at or after this time (ISO 8601), or this long ago (2d, 12h, 30m)",
    )
    parser.add_argument("--until", type=when, default=None, help="changed at or before this time")
    parser.add_argument(
        "--schedule",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep running: sync again from the cursor every SECONDS",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cli.runtime.embedded import store_settings
    from cli.runtime.sync import SyncError
    from wismo.settings import load_settings

    if args.until is not None and args.until < args.since:
        print("wismo sync: --until is before --since", file=sys.stderr)
        return 2
    if args.schedule is not None and args.schedule <= 0:
        print("wismo sync: --schedule must be a positive number of seconds", file=sys.stderr)
        return 2
    settings = store_settings(load_settings())
    if settings.kafka.bootstrap is None:
        print(
            "wismo sync: no Kafka configured (set WISMO_KAFKA__BOOTSTRAP) and no wismo up "
            f"recorded in {settings.data_dir.resolve()}",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_sync(settings, args))
    except SyncError as error:
        print(f"wismo sync: {error}", file=sys.stderr)
        return 1


async def _sync(settings: Settings, args: argparse.Namespace) -> int:
    import aiohttp
    from tqdm import tqdm

    from api.kafka import open_producer
    from carriers.listing import ListedPage
    from cli.runtime.sync import SOURCES, KafkaRawSink, SyncCursor, platform_for, sync_once
    from projections.connections import redis_client
    from wismo.settings import CarrierCredentials

    source = SOURCES[args.platform]
    credentials = settings.poll.carriers.get(source) or CarrierCredentials()
    timeout = aiohttp.ClientTimeout(total=settings.poll.request_timeout_s)
    redis = await redis_client(settings)
    producer = await open_producer(settings)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            platform = platform_for(
                args.platform, credentials, session, timeout_s=settings.poll.request_timeout_s
            )
            cursor = SyncCursor(redis, settings.redis.key_prefix, source)
            sink = KafkaRawSink(producer, settings.topic("raw"))
            while True:
                with tqdm(
                    desc=f"wismo sync {args.platform}", unit=" objects", file=sys.stderr
                ) as bar:
                    pages = 0

                    def shown(page: ListedPage) -> None:
                        nonlocal pages
                        pages += 1
                        bar.update(len(page.objects))
                        bar.set_postfix(pages=pages, stream=page.stream, refresh=False)

                    done = await sync_once(
                        platform, cursor, sink, since=args.since, until=args.until, on_page=shown
                    )
                _report(done, settings.topic("raw"))
                if args.schedule is None:
                    return 0
                await asyncio.sleep(args.schedule)
    finally:
        await producer.stop()
        await redis.aclose()


def _report(done: SyncRun, topic: str) -> None:
    at = done.cursor.astimezone(UTC).isoformat() if done.cursor is not None else "none yet"
    print(
        f"wismo sync: fed {done.fed} {done.source} object(s) in {done.pages} page(s) to {topic}; "
        f"cursor {at}",
        file=sys.stderr,
    )
