"""``wismo verify``: do Redis and ClickHouse hold exactly what the input history implies?

The input is canonical events as JSON lines (``--events``), a generated history
(``--simulate ORDERS --seed N``, the same one ``bench.history.generate`` sends), or both.
Exit 0 when nothing differs, 1 with every difference listed, 2 when the input cannot be read or
a store cannot be reached (the message names its URL).

The stores are the configured ones, wherever the command runs: endpoints left open are taken
from what ``wismo up`` recorded in ``<data_dir>/services.json``, a Redis URL still open means
the machine's Redis, and a chDB path holding no log is refused (never created empty). chDB lets
one process hold a path: while ``wismo up`` runs, the log is read from a copy of its directory
taken at the start of the check.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cli.commands import SubParsers

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from projections.redis_store import RedisKeys
    from projections.verify import LoggedEvent, RedisSnapshot, Reference
    from wismo.events import Event
    from wismo.settings import Settings

STORES = ("redis", "clickhouse")
_PIPELINE_ORDERS = 500
# one row per event id after deduplication (FINAL), with the order the log's readers attribute
# it to: its own order id, or for a scan logged unlinked the order whose shipment names it
_LOGGED = """
WITH owners AS (
    SELECT number, any(order_id) AS owner FROM {db}.events FINAL ARRAY JOIN links AS number
    WHERE order_id != '' GROUP BY number
)
SELECT e.event_id, count(), any(if(e.order_id = '', o.owner, e.order_id)), any(e.event_json)
FROM {db}.events AS e FINAL LEFT JOIN owners AS o ON e.tracking_number = o.number
GROUP BY e.event_id
"""


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="compare Redis timelines and the ClickHouse log with the fold of an input history",
        description="Folds each order's valid input events and compares the result with the "
        "Redis timeline, field by field, and the ClickHouse event log (read with FINAL) with "
        "the set of valid input events: each exactly once, with its order. Lists every "
        "difference; exits 1 if there is any.",
    )
    parser.add_argument("--events", help="JSON-lines file of canonical events, or - for stdin")
    parser.add_argument(
        "--simulate", type=int, metavar="ORDERS", help="the generated history of ORDERS orders"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated history")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="ignore invalid lines in --events"
    )
    parser.add_argument(
        "--stores", default=",".join(STORES), help="which stores to check (redis,clickhouse)"
    )
    parser.add_argument(
        "--ignore-extra-orders",
        action="store_true",
        help="do not report orders the input does not mention: their Redis timelines and "
        "their ClickHouse events",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(handler=run)


class InputError(Exception):
    """The input history could not be read."""


def _read_events(path: str, skip_invalid: bool) -> list[Event]:
    from wismo.event_lines import read_event_lines

    try:
        if path == "-":
            events, problems = read_event_lines(sys.stdin.buffer)
        else:
            with open(path, "rb") as stream:
                events, problems = read_event_lines(stream)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from error
    if problems and not skip_invalid:
        shown = "; ".join(str(problem) for problem in problems[:3])
        raise InputError(f"{path}: {len(problems)} invalid line(s), e.g. {shown}")
    return events


def input_events(args: argparse.Namespace) -> list[Event]:
    if args.events is None and args.simulate is None:
        raise InputError("give the input history: --events FILE and/or --simulate ORDERS")
    events = [] if args.events is None else _read_events(args.events, args.skip_invalid)
    if args.simulate is not None:
        from bench.history import generate

        events += generate(args.simulate, seed=args.seed).valid_events.values()
    return events


async def read_redis(settings: Settings, reference: Reference, *, extras: bool) -> RedisSnapshot:
    from projections.connections import redis_client
    from projections.redis_store import RedisKeys
    from projections.verify import RedisSnapshot

    client = await redis_client(settings)
    keys = RedisKeys(settings.redis.key_prefix)
    timelines: dict[str, bytes | None] = {}
    event_ids: dict[str, frozenset[str]] = {}
    orders = sorted(reference.timelines)
    try:
        for start in range(0, len(orders), _PIPELINE_ORDERS):
            chunk = orders[start : start + _PIPELINE_ORDERS]
            async with client.pipeline(transaction=False) as pipe:
                for order_id in chunk:
                    pipe.hget(keys.state(order_id), "json")
                    pipe.hkeys(keys.events(order_id))
                replies = await pipe.execute()
            for index, order_id in enumerate(chunk):
                timelines[order_id] = replies[2 * index]
                event_ids[order_id] = frozenset(i.decode() for i in replies[2 * index + 1])
        others = await _orders_held(client, keys) if extras else frozenset()
    finally:
        await client.aclose()
    return RedisSnapshot(timelines, event_ids, others)


async def _orders_held(client: aioredis.Redis, keys: RedisKeys) -> frozenset[str]:
    """Every order with a timeline under the prefix (``P:{ORDER}:state``)."""
    head, tail = f"{keys.prefix}:{{", "}:state"
    found = set()
    async for key in client.scan_iter(match=f"{keys.prefix}:{{*}}:state", count=1000):
        text = key.decode()
        if text.startswith(head) and text.endswith(tail):
            found.add(text[len(head) : -len(tail)])
    return frozenset(found)


async def read_clickhouse(settings: Settings) -> dict[str, LoggedEvent]:
    from projections.clickhouse_store import ClickHouse
    from projections.verify import LoggedEvent

    if settings.clickhouse.url is None:
        _require_chdb(settings.chdb_path)
        if _held(settings.chdb_path):
            with tempfile.TemporaryDirectory(prefix="wismo-verify-") as scratch:
                copy = _snapshot(settings.chdb_path, Path(scratch))
                print(
                    f"wismo verify: the chDB at {settings.chdb_path} is held by a running "
                    f"process (chDB allows one per path); checking a copy taken at "
                    f"{time.strftime('%H:%M:%S')}, which misses what arrives later",
                    file=sys.stderr,
                )
                section = settings.clickhouse.model_copy(update={"chdb_path": copy})
                return await read_clickhouse(settings.model_copy(update={"clickhouse": section}))
    ch = await ClickHouse.connect(settings, migrate_schema=False)
    try:
        rows = await ch.rows(_LOGGED)
    finally:
        await ch.close()
    return {
        str(event_id): LoggedEvent(int(count), str(order_id), str(document))
        for event_id, count, order_id, document in rows
    }


def _require_chdb(path: Path) -> None:
    """Refuse a chDB path that holds no log (never create an empty one by opening it)."""
    if not (path / "metadata").is_dir():
        raise InputError(
            f"no ClickHouse log at {path} (chDB): run wismo verify where wismo up ran, or set "
            "WISMO_DATA_DIR, WISMO_CLICKHOUSE__CHDB_PATH or WISMO_CLICKHOUSE__URL"
        )


def _held(path: Path) -> bool:
    """Whether a process holds the chDB at ``path`` (its lock on the ``status`` file)."""
    import fcntl

    try:
        with (path / "status").open("a") as status:
            try:
                fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(status, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def _snapshot(path: Path, scratch: Path) -> Path:
    """A copy of a chDB directory another process holds: its data parts are immutable files,
    and the copy leaves out the lock (``status``) and parts still being written (``tmp``)."""
    copy = scratch / "chdb"
    shutil.copytree(
        path, copy, symlinks=True, ignore=shutil.ignore_patterns("status", "tmp_*", "tmp")
    )
    return copy


def _stores(text: str) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in wanted if name not in STORES]
    if unknown or not wanted:
        raise InputError(f"--stores takes {', '.join(STORES)}; got {text!r}")
    return wanted


async def _check(args: argparse.Namespace, stores: tuple[str, ...]) -> Any:
    from cli.runtime.embedded import store_settings
    from projections.verify import Reference, verify
    from wismo.settings import load_settings

    # what wismo up recorded in the data directory (its broker, its private Redis), else the
    # machine's Redis
    settings = store_settings(load_settings())
    reference = Reference.of(input_events(args))
    redis = (
        await read_redis(settings, reference, extras=not args.ignore_extra_orders)
        if "redis" in stores
        else None
    )
    clickhouse = await read_clickhouse(settings) if "clickhouse" in stores else None
    return verify(reference, redis, clickhouse, ignore_extra_orders=args.ignore_extra_orders)


def run(args: argparse.Namespace) -> int:
    from projections.errors import StoreError

    try:
        stores = _stores(args.stores)
        report = asyncio.run(_check(args, stores))
    except (InputError, StoreError) as error:
        print(f"wismo verify: {error}", file=sys.stderr)
        return 2
    if args.json:
        document = {
            "ok": report.ok,
            "orders": report.orders,
            "events": report.events,
            "counts": report.counts(),
            "differences": [difference.to_dict() for difference in report.differences],
        }
        sys.stdout.buffer.write(orjson.dumps(document, default=str) + b"\n")
    else:
        for difference in report.differences:
            print(difference)
        counts = ", ".join(f"{n} {what}" for what, n in report.counts().items())
        verdict = "no differences" if report.ok else f"{len(report.differences)} differences"
        print(
            f"wismo verify: {report.orders} orders, {report.events} events checked against "
            f"{' and '.join(stores)}: {verdict}{f' ({counts})' if counts else ''}"
        )
    return 0 if report.ok else 1
