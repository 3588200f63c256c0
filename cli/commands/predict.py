"""``wismo predict``: train the delivery-estimate model, and backtest it (docs/prediction.md).

``train`` aggregates the delivered parcels of the window in ClickHouse and stores the model (the
``prediction_models`` table and ``<data_dir>/predict/model.json``); ``--schedule`` keeps doing so
every ``predict.refresh_interval_s``. ``backtest`` trains on what was delivered before a moment
and scores what was shipped after it; without a history to work on (a fresh clone) it simulates
one (:data:`bench.orders.LANES`) into a chDB in a temporary directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.commands import SubParsers

#: orders simulated when there is no history: about 8,000 parcels over four months
HISTORY_ORDERS = 6000


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="train and backtest the delivery-estimate model (docs/prediction.md)"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train", help="train a model over ClickHouse and store it (a scheduled job)"
    )
    train.add_argument(
        "--until", type=_instant, help="learn from deliveries before this (default: now)"
    )
    train.add_argument("--window-days", type=float, help="default: predict.window_days")
    train.add_argument("--out", type=Path, help="also write the artefact here")
    train.add_argument(
        "--schedule",
        action="store_true",
        help="train again every predict.refresh_interval_s, until interrupted",
    )
    train.add_argument(
        "--history",
        type=int,
        metavar="ORDERS",
        help="learn from this many simulated orders in a temporary chDB instead of ClickHouse, "
        "and write only the model file (what `wismo up` does when it has no model)",
    )
    train.add_argument("--seed", type=int, default=7, help="of the simulated history")
    train.set_defaults(handler=run_train)

    backtest = actions.add_parser(
        "backtest", help="train before a moment, score the parcels shipped after it"
    )
    backtest.add_argument(
        "--train-until",
        type=_instant,
        help="the cut (default: three quarters into the delivered history)",
    )
    backtest.add_argument(
        "--history",
        type=int,
        metavar="ORDERS",
        help="simulate this many orders into a temporary chDB instead of reading ClickHouse "
        f"(done anyway, with {HISTORY_ORDERS}, when there is no history)",
    )
    backtest.add_argument("--seed", type=int, default=7, help="of the simulated history")
    backtest.add_argument("--window-days", type=float, help="default: predict.window_days")
    backtest.add_argument("--format", choices=("table", "json"), default="table")
    backtest.set_defaults(handler=run_backtest)


def run_train(args: argparse.Namespace) -> int:
    from wismo.settings import load_settings

    settings = load_settings()
    if args.history is not None:
        return _train_simulated(args, settings)
    opened: list[Any] = []  # the client, once connected: one per process (chDB allows one)
    while True:
        code = _train_once(args, settings, opened)
        if not args.schedule:
            return code
        time.sleep(settings.predict.refresh_interval_s)


def _train_once(args: argparse.Namespace, settings: Any, opened: list[Any]) -> int:
    """One training: stored unless the window holds too little (a good model is never
    replaced by an empty one); a store that fails is said and the next round tries again."""
    from cli.runtime.predict import model_path, save_model, train, write_model_file
    from projections.clickhouse_schema import migrate
    from projections.connections import clickhouse_client
    from projections.errors import StoreError

    database = settings.clickhouse.database
    started = time.perf_counter()
    try:
        if not opened:
            opened.append(clickhouse_client(settings))
            migrate(opened[0], database)
        client = opened[0]
        model = train(
            client,
            database,
            until=args.until or datetime.now(UTC),
            window_days=args.window_days or settings.predict.window_days,
            min_samples=settings.predict.min_samples,
        )
        if model.samples < settings.predict.min_samples:
            print(
                f"wismo predict train: {model.samples} scans of delivered parcels between "
                f"{model.trained_from:%Y-%m-%d %H:%M} and {model.trained_until:%Y-%m-%d %H:%M}"
                f" UTC, fewer than predict.min_samples ({settings.predict.min_samples}); "
                "the stored model is left as it was",
                file=sys.stderr,
            )
            return 1
        save_model(client, database, model)
    except StoreError as error:
        print(f"wismo predict train: {error}", file=sys.stderr)
        return 1
    for path in {model_path(settings), *([args.out] if args.out else [])}:
        write_model_file(path, model)
    print(
        f"model {model.version}: {model.parcels:,} parcels, {model.samples:,} scans, "
        f"{model.group_count():,} groups, deliveries {model.trained_from:%Y-%m-%d %H:%M}"
        f" to {model.trained_until:%Y-%m-%d %H:%M} UTC ({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0


def _train_simulated(args: argparse.Namespace, settings: Any) -> int:
    """A model of a simulated history (LANES mix), written to the model file only."""
    import clickhouse_connect

    from cli.runtime.predict import coverage, model_path, train, write_model_file
    from projections.clickhouse_schema import migrate

    database = settings.clickhouse.database
    with tempfile.TemporaryDirectory(prefix="wismo-predict-") as scratch:
        client = clickhouse_connect.get_client(interface="chdb", path=str(Path(scratch) / "chdb"))
        try:
            migrate(client, database)
            _simulate(client, database, args.history, args.seed)
            last = coverage(client, database).last
            until = args.until or (last + timedelta(seconds=1) if last else datetime.now(UTC))
            model = train(
                client,
                database,
                until=until,
                window_days=args.window_days or settings.predict.window_days,
                min_samples=settings.predict.min_samples,
            )
        finally:
            client.close()
    if model.samples < settings.predict.min_samples:
        print(f"wismo predict train: only {model.samples} scans simulated", file=sys.stderr)
        return 1
    for path in {model_path(settings), *([args.out] if args.out else [])}:
        write_model_file(path, model)
    print(
        f"model {model.version} (simulated, {args.history:,} orders): {model.parcels:,} parcels, "
        f"{model.samples:,} scans, {model.group_count():,} groups",
        file=sys.stderr,
    )
    return 0


def _simulate(client: Any, database: str, orders: int, seed: int) -> None:
    from bench.orders import LANES, stories
    from cli.runtime.predict import load_histories

    told = stories(orders, seed=seed, mix=LANES, order_id="SIM-{index:06d}")
    load_histories(client, database, ((story.order_id, story.events()) for story in told))


def run_backtest(args: argparse.Namespace) -> int:
    import clickhouse_connect

    from api.clickhouse import chdb_is_open
    from cli.runtime.predict import coverage
    from projections.clickhouse_schema import migrate
    from projections.connections import clickhouse_client
    from projections.errors import StoreError
    from wismo.settings import load_settings

    settings = load_settings()
    database = settings.clickhouse.database
    embedded = settings.clickhouse.url is None
    orders = args.history
    started = time.perf_counter()
    if orders is None and embedded and not settings.chdb_path.exists():
        orders = HISTORY_ORDERS  # a fresh clone: nothing to learn from but a simulation
    if orders is not None:
        with tempfile.TemporaryDirectory(prefix="wismo-predict-") as scratch:
            client = clickhouse_connect.get_client(
                interface="chdb", path=str(Path(scratch) / "chdb")
            )
            try:
                _simulate(client, database, orders, args.seed)
                source = f"simulated: {orders:,} orders (LANES mix, seed {args.seed})"
                return _backtest(args, settings, client, database, source, started)
            finally:
                client.close()
    if embedded and chdb_is_open(settings):
        print(
            f"wismo predict backtest: another process holds the chDB path {settings.chdb_path}; "
            "stop it, or pass --history N to backtest on a simulated history",
            file=sys.stderr,
        )
        return 1
    try:
        client = clickhouse_client(settings)
        migrate(client, database)
        if coverage(client, database).parcels < 100:
            print(
                "wismo predict backtest: fewer than 100 delivered parcels in ClickHouse; "
                "pass --history N to backtest on a simulated history",
                file=sys.stderr,
            )
            return 1
        return _backtest(args, settings, client, database, "ClickHouse", started)
    except StoreError as error:
        print(f"wismo predict backtest: {error}", file=sys.stderr)
        return 1


def _backtest(
    args: argparse.Namespace,
    settings: Any,
    client: Any,
    database: str,
    source: str,
    started: float,
) -> int:
    import orjson

    from cli.runtime.predict import backtest, coverage

    span = coverage(client, database)
    if span.first is None or span.last is None:
        print("wismo predict backtest: no delivered parcels", file=sys.stderr)
        return 1
    cut = args.train_until or span.first + (span.last - span.first) * 0.75
    window = args.window_days or settings.predict.window_days
    report = backtest(
        client,
        database,
        train_until=cut,
        window_days=window,
        min_samples=settings.predict.min_samples,
        threshold=settings.predict.threshold,
        grace_hours=settings.thresholds.late_grace_hours,
    )
    result = {
        "history": source,
        "train_until": cut.isoformat(),
        "window_days": window,
        "min_samples": settings.predict.min_samples,
        **report.as_dict(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(_table(result))
    return 0


def _table(result: dict[str, Any]) -> str:
    mae, trend, late = result["mae_hours"], result["trending_late"], result["p_late"]

    def cell(value: object) -> str:
        return "-" if value is None else str(value)

    lines = [
        f"history: {result['history']}",
        f"trained on deliveries in the {result['window_days']:g} days before "
        f"{result['train_until']}: {result['train']['parcels']:,} parcels, "
        f"{result['train']['samples']:,} scans (model {result['model_version']}, trained in "
        f"{result['train']['seconds']} s)",
        f"scored: {result['test']['parcels']:,} parcels shipped after, at each of their "
        f"{result['test']['samples']:,} scans",
        "",
        "mean absolute error, hours          wismo   carrier EDD   naive",
        f"  predicted day vs delivery day  {cell(mae['wismo_date']):>8}  "
        f"{cell(mae['carrier_edd_date']):>12}  {cell(mae['naive_date']):>6}",
        f"  predicted instant vs delivery  {cell(mae['wismo']):>8}  {'':>12}  "
        f"{cell(mae['naive']):>6}",
        f"  (carrier EDD known at {result['compared']['carrier_edd']:,} scans; wismo there: "
        f"{cell(mae['wismo_date_where_carrier_edd'])})",
        f"p10-p90 window holds the delivery: {cell(result['window_coverage_p10_p90'])}",
        f"group levels used: {result['basis_levels']}",
        "",
        f"P(late), {late['samples']:,} scans before the promise was missed: Brier "
        f"{cell(late['brier'])} (constant forecast: {cell(late['brier_constant'])})",
        "  P(late)    scans   mean P   observed",
        *(
            f"  {b['p']:<9} {b['count']:>6}   {b['mean_p']:>6}   {b['observed']:>8}"
            for b in late["reliability"]
        ),
        "",
        f"trending late at P >= {trend['threshold']}: {trend['flagged_before_deadline']} of "
        f"{trend['late_parcels']} late parcels flagged before the promise was missed "
        f"(recall {cell(trend['recall'])}), median {cell(trend['lead_hours_median'])} h ahead; "
        f"{trend['false_alarms']} of {trend['on_time_parcels']} on-time parcels flagged "
        f"(precision {cell(trend['precision'])})",
        f"carrier EDD past the promise: {trend['carrier_edd_flagged']} late parcels, median "
        f"{cell(trend['carrier_edd_lead_hours_median'])} h ahead",
        f"({result['seconds']} s)",
        "",
    ]
    return "\n".join(lines)
