"""``wismo erase --order ID | --email E | --phone P``: a person's data removed or anonymised in
ClickHouse and Redis, with an audit record (:mod:`projections.erasure`)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from cli.commands import SubParsers, run_on_stores
from cli.runtime.embedded import store_settings


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "erase",
        help="erase a person's data (by order id, e-mail or phone) from ClickHouse and Redis",
        description="Anonymises every event of the orders found (e-mail, postcodes, facilities, "
        "scan messages, notes, payment references) in the ClickHouse log and in Redis, replaces "
        "their timelines and facts by the anonymised ones (the SLA KPIs still count them) and "
        "records who erased what kind of subject, when, and which orders (never the value). "
        "With chDB, run it while no other process holds the chDB path, or use the API "
        "(POST /v1/agent/erasures) of the process that does (wismo up).",
    )
    subject = parser.add_mutually_exclusive_group(required=True)
    subject.add_argument("--order", help="an order id")
    subject.add_argument("--email", help="a customer e-mail address")
    subject.add_argument("--phone", help="a phone number (also matched as its digits alone)")
    parser.add_argument(
        "--by", default=None, help="who asks, for the audit record (default: the system user)"
    )
    parser.set_defaults(handler=run)


async def _erase(args: argparse.Namespace) -> dict[str, object]:
    from api.clickhouse import chdb_is_open
    from projections.clickhouse_store import ClickHouse
    from projections.connections import redacted, redis_client
    from projections.erasure import Erasure, Subject
    from projections.errors import StoreError
    from projections.redis_store import RedisTimelineStore
    from wismo.settings import load_settings

    kind = next(k for k in ("order", "email", "phone") if getattr(args, k) is not None)
    try:
        subject = Subject.of(kind, getattr(args, kind))
    except ValueError as error:
        raise StoreError(str(error)) from error
    settings = load_settings()
    if settings.clickhouse.url is None:
        if chdb_is_open(settings):
            raise StoreError(
                f"another process holds the chDB path {settings.chdb_path}: erase through its "
                "API (POST /v1/agent/erasures, role admin) or stop it first"
            )
        if not (settings.chdb_path / "metadata").is_dir():
            raise StoreError(
                f"no chDB database at {settings.chdb_path} (set data_dir or chdb_path)"
            )
    settings = store_settings(settings)
    client = await redis_client(settings)
    try:
        ch = await ClickHouse.connect(settings)
        try:
            store = RedisTimelineStore(
                client,
                settings.redis.key_prefix,
                url=redacted(settings.redis.url or ""),
                retention_s=settings.retention.redis_s,
            )
            erasure = Erasure(ch, store)
            by = args.by or getpass.getuser()
            report = await erasure.run(subject, by, datetime.now(UTC))
        finally:
            await ch.close()
    finally:
        await client.aclose()
    return report.as_dict()


def run(args: argparse.Namespace) -> int:
    import orjson

    report = run_on_stores("erase", _erase(args))
    if report is None:
        return 2
    sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    return 0
