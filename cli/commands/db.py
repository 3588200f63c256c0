"""``wismo db migrate``: bring the ClickHouse schema up to date (also done on every start)."""

from __future__ import annotations

import argparse
import sys

from cli.commands import SubParsers, run_on_stores


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("db", help="ClickHouse schema: migrations")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate",
        help="apply pending ClickHouse migrations",
        description="Creates the database if needed and applies the migrations not yet "
        "recorded in its schema_migrations table, in order.",
    )
    migrate.set_defaults(handler=run)


async def _migrate() -> list[str]:
    from projections.clickhouse_schema import migrate
    from projections.clickhouse_store import ClickHouse
    from wismo.settings import load_settings

    ch = await ClickHouse.connect(load_settings(), migrate_schema=False)
    try:
        applied = await ch.run(migrate, ch.client, ch.database)
        print(f"ClickHouse {ch.target}, database {ch.database}:", file=sys.stderr)
    finally:
        await ch.close()
    return applied


def run(args: argparse.Namespace) -> int:
    applied = run_on_stores("db migrate", _migrate())
    if applied is None:
        return 2
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("schema is up to date")
    return 0
