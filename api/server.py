"""Serving the application: the runner every process that serves the API uses.

aiohttp answers a request its HTTP parser refuses (a control character in a header, a line too
long) itself, before the application or its middlewares see it, with a body that quotes the
parser's message — the offending bytes — and aiohttp's own ``Server`` header. :class:`ApiRunner`
serves connections through a handler whose refusals are a plain ``400 Bad Request`` (the status
phrase only) with the ``Server`` header every other answer carries. Logging of those refusals is
quiet already (:data:`api.guards.HANDLER_ARGS`).
"""

from __future__ import annotations

import asyncio
import signal
from http import HTTPStatus

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from api.guards import SERVER


class _QuietRequestHandler(RequestHandler):
    """aiohttp's connection handler, except that refusals say only their status."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status != HTTPStatus.INTERNAL_SERVER_ERROR:
            message = f"{status} {HTTPStatus(status).phrase}\n"
        response = super().handle_error(request, status, exc, message)
        response.headers[hdrs.SERVER] = SERVER
        return response


class _QuietServer(Server):
    __slots__ = ()

    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _QuietRequestHandler  # same state, another handle_error
        return handler


class ApiRunner(web.AppRunner):
    """``web.AppRunner`` whose connections refuse malformed requests without echoing them."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer  # same state, another connection handler
        return server


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve ``app`` on host:port until SIGINT or SIGTERM, then shut down gracefully."""
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
