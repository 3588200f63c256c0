"""``wismo sla``: delivery KPIs from ClickHouse (definitions in docs/kpis.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from cli.commands import SubParsers


def register(subparsers: SubParsers) -> None:
    from projections.sla import ALL_SECTIONS

    parser = subparsers.add_parser(
        "sla",
        help="print delivery, notification and agent-response KPIs for a period (docs/kpis.md)",
        description="Delivery SLA KPIs from the ClickHouse facts, grouped as asked, the "
        "notification KPIs (notify_* sections: messages and exceptions of the period) and the "
        "agents' response times (agent_response: exceptions opened in the period, by type and "
        "by agent); these last are not grouped.",
    )
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        type=date.fromisoformat,
        help="first cohort day (YYYY-MM-DD, order placed)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        required=True,
        type=date.fromisoformat,
        help="last cohort day, inclusive",
    )
    parser.add_argument(
        "--by",
        default="",
        help="comma-separated: carrier,service,lane,channel,week,day (shipment sections)",
    )
    parser.add_argument(
        "--brand",
        action="append",
        help="only the orders of this brand (repeatable; '' for unbranded orders; default all)",
    )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument(
        "--section",
        action="append",
        choices=ALL_SECTIONS,
        help="only these sections (repeatable)",
    )
    parser.add_argument("--plot", type=Path, help="also write an on-time chart to this PNG")
    parser.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from projections.clickhouse_schema import migrate
    from projections.connections import clickhouse_client
    from projections.errors import StoreError
    from projections.sla import ALL_SECTIONS, InvalidGrouping, SlaQuery, section_sql, sla_report
    from projections.sla_render import plot_on_time, report_csv, report_table
    from wismo.settings import load_settings

    try:
        brands = None if args.brand is None else frozenset(b.strip() for b in args.brand)
        query = SlaQuery(args.start, args.end, tuple(n for n in args.by.split(",") if n), brands)
    except InvalidGrouping as error:
        print(f"wismo sla: {error}", file=sys.stderr)
        return 2
    sections = args.section or list(ALL_SECTIONS)
    if args.sql:
        for section in sections:
            print(f"-- {section}\n{section_sql(query, section)};\n")
        return 0
    settings = load_settings()
    try:
        client = clickhouse_client(settings)
        migrate(client, settings.clickhouse.database)
        report = sla_report(client, settings.clickhouse.database, query, sections)
    except StoreError as error:
        print(f"wismo sla: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    elif args.format == "csv":
        sys.stdout.write(report_csv(report))
    else:
        sys.stdout.write(report_table(report))
    if args.plot is not None:
        plot_on_time(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
