"""The baseline server: a bare aiohttp handler answering a constant JSON document.

It is served the way ``wismo api`` serves the real application (``web.run_app`` on uvloop, no
access log), so the ratio between the two is what the application's own work costs.
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop
from aiohttp import web

CONSTANT = b'{"status":"ok"}'


async def constant(request: web.Request) -> web.Response:
    return web.Response(body=CONSTANT, content_type="application/json")


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/constant", constant)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
