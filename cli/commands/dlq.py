"""``wismo dlq list`` and ``wismo dlq replay [--id ID …]``: the dead-letter topic."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from cli.commands import SubParsers

if TYPE_CHECKING:
    from wismo.settings import Settings


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("dlq", help="list or replay dead-lettered payloads")
    commands = parser.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = commands.add_parser("list", help="one line per record: id, time, source, reason")
    listing.add_argument("--json", action="store_true", help="full records as JSON lines")
    listing.set_defaults(handler=run_list)
    replay = commands.add_parser(
        "replay", help="put dead-lettered payloads back on the raw topic (after a fix)"
    )
    replay.add_argument("--id", action="append", dest="ids", help="only this record (repeatable)")
    replay.set_defaults(handler=run_replay)


def _settings_or_none() -> Settings | None:
    from cli.runtime.embedded import running_settings
    from wismo.probes import kafka_metadata_ok
    from wismo.settings import load_settings

    # the configured broker, else the one wismo up recorded in the data directory
    settings = running_settings(load_settings())
    bootstrap = settings.kafka.bootstrap
    if bootstrap is None:
        print(
            "wismo dlq: no Kafka configured (set WISMO_KAFKA__BOOTSTRAP) and no wismo up "
            f"recorded in {settings.data_dir.resolve()}",
            file=sys.stderr,
        )
        return None
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    if not port.isdigit() or not kafka_metadata_ok(host or "127.0.0.1", int(port)):
        print(f"wismo dlq: no Kafka broker answers at {bootstrap}", file=sys.stderr)
        return None
    return settings


def run_list(args: argparse.Namespace) -> int:
    from wismo.deadletter import read_records

    settings = _settings_or_none()
    if settings is None:
        return 2
    records = asyncio.run(read_records(settings))
    for record in records:
        if args.json:
            sys.stdout.buffer.write(record.to_json() + b"\n")
        else:
            when = record.failed_at.isoformat(timespec="seconds")
            print(f"{record.id}\t{when}\t{record.source or '-'}\t{record.reason}")
    print(f"{len(records)} dead-lettered record(s)", file=sys.stderr)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from wismo.deadletter import read_records, replay_records, select

    settings = _settings_or_none()
    if settings is None:
        return 2
    chosen = select(asyncio.run(read_records(settings)), args.ids)
    missing = sorted(set(args.ids or ()) - {record.id for record in chosen})
    for record_id in missing:
        print(f"wismo dlq: no record {record_id}", file=sys.stderr)
    sent = asyncio.run(replay_records(settings, chosen))
    print(f"replayed {sent} record(s) to {settings.topic('raw')}", file=sys.stderr)
    return 1 if missing else 0
