"""``wismo run --roles …`` and ``wismo worker``: run stream roles in this process."""

from __future__ import annotations

import argparse
import sys

from cli.commands import SubParsers


def register(subparsers: SubParsers) -> None:
    run_parser = subparsers.add_parser(
        "run",
        help="run a set of roles in one process (normalise,timeline,warehouse,sweeper,api)",
        description=(
            "Runs the named roles in this process against the configured Kafka, Redis and "
            "ClickHouse (WISMO_KAFKA__BOOTSTRAP, WISMO_REDIS_URL, …). With chDB, only one "
            "process may hold the warehouse role."
        ),
    )
    run_parser.add_argument("--roles", required=True, help="comma-separated role names")
    _common(run_parser)
    run_parser.set_defaults(handler=run)
    worker_parser = subparsers.add_parser("worker", help="run every stream role (all but api)")
    _common(worker_parser)
    worker_parser.set_defaults(handler=run, roles=None)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web-port",
        type=int,
        default=6066,
        help="port of this worker's /metrics and /healthz (distinct per worker on one host)",
    )
    parser.add_argument(
        "--web-host",
        default="127.0.0.1",
        help="address of /metrics and /healthz (0.0.0.0 in a container, for Prometheus)",
    )


def run(args: argparse.Namespace) -> int:
    from cli.runtime.embedded import LOCAL_REDIS
    from cli.runtime.roles import STREAM_ROLES, parse_roles
    from cli.runtime.roles import run as run_roles
    from streams.errors import UnknownRole
    from wismo.probes import redis_ping
    from wismo.settings import load_settings

    try:
        roles = parse_roles(args.roles if args.roles is not None else STREAM_ROLES)
    except UnknownRole as error:
        print(f"wismo: {error}", file=sys.stderr)
        return 2
    from cli.runtime.embedded import running_settings

    # endpoints left open: what wismo up recorded in the data directory, if it did
    settings = running_settings(load_settings())
    if settings.kafka.bootstrap is None:
        print(
            "wismo: no Kafka configured (set WISMO_KAFKA__BOOTSTRAP), or use `wismo up`",
            file=sys.stderr,
        )
        return 2
    if settings.redis.url is None:
        if not redis_ping(*LOCAL_REDIS):
            print("wismo: no Redis configured (set WISMO_REDIS__URL)", file=sys.stderr)
            return 2
        local = f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
        settings = settings.model_copy(
            update={"redis": settings.redis.model_copy(update={"url": local})}
        )
    return run_roles(settings, roles, web_port=args.web_port, web_host=args.web_host)
