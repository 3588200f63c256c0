"""``wismo api``: serve the HTTP API and websockets alone (no stream roles in this process)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cli.commands import SubParsers


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "api",
        help="serve the HTTP API and websockets",
        description=(
            "Serves webhook ingestion, order reads, the agent API and live websockets against "
            "the configured Kafka and Redis (WISMO_KAFKA__BOOTSTRAP, WISMO_REDIS__URL)."
        ),
    )
    parser.add_argument("--host", help="listen address (default: settings api.host)")
    parser.add_argument("--port", type=int, help="listen port (default: settings api.port)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from api.app import create_app
    from api.server import serve
    from cli.runtime.embedded import running_settings
    from streams.logs import logging_config
    from wismo.settings import load_settings

    # endpoints left open: what wismo up recorded in the data directory, if it did
    settings = running_settings(load_settings())
    if settings.kafka.bootstrap is None or settings.redis.url is None:
        print(
            "wismo api: set WISMO_KAFKA__BOOTSTRAP and WISMO_REDIS__URL, or use `wismo up`",
            file=sys.stderr,
        )
        return 2
    import logging.config

    from streams.app import use_uvloop
    from wismo.gc_tuning import tune_gc

    logging.config.dictConfig(logging_config(settings.log_level))
    use_uvloop()  # as the api role runs inside a worker
    app = create_app(settings)
    tune_gc()
    asyncio.run(
        serve(
            app,
            args.host or settings.api.host,
            args.port if args.port is not None else settings.api.port,
        )
    )
    return 0
