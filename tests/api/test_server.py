"""The runner that serves the API: a request the HTTP parser refuses is answered with its status
only — nothing of what was sent is echoed — and with the ``Server`` header every answer carries."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web

from api.guards import HANDLER_ARGS
from api.server import ApiRunner

MALFORMED = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Probe: secret\x01value\r\n\r\n"


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _serve(runner: web.AppRunner) -> int:
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return port


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return answer


@pytest.fixture
def app() -> web.Application:
    application = web.Application(handler_args=HANDLER_ARGS)
    application.router.add_get("/healthz", _ok)
    return application


async def test_a_refused_request_is_answered_with_its_status_only(app: web.Application) -> None:
    runner = ApiRunner(app, access_log=None)
    port = await _serve(runner)
    try:
        answer = await _exchange(port, MALFORMED)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400"))
        assert body == b"400 Bad Request\n"
        assert b"\r\nServer: wismo" in head
        assert b"secret" not in answer
        assert b"aiohttp" not in answer.lower()
        # a well-formed request on the same runner is served as usual
        fine = await _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert fine.startswith(b"HTTP/1.1 200")
        assert fine.endswith(b"ok")
    finally:
        await runner.cleanup()


async def test_the_plain_runner_would_echo_what_was_sent(app: web.Application) -> None:
    # Why ApiRunner exists: aiohttp's own answer quotes the offending header back.
    runner = web.AppRunner(app, access_log=None)
    port = await _serve(runner)
    try:
        assert b"secret" in await _exchange(port, MALFORMED)
    finally:
        await runner.cleanup()
