"""A real local HTTP server that answers like a carrier's API, from recorded responses.

Tests point a tracking client's ``base_url`` at it; every request is kept (method, path, query,
headers, body) so a test can check what the client sent, and answers are served in order per
route (the last one repeats), each with optional extra headers and a delay before it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class CarrierServer:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    _answers: dict[tuple[str, str], list[tuple[int, bytes, dict[str, str], float]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def answer(
        self,
        method: str,
        path: str,
        body: Any,
        status: int = 200,
        *,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        self._answers[(method, path)].append((status, raw, headers or {}, delay_s))

    def calls_to(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append(
            Call(
                request.method,
                request.path,
                dict(request.query),
                {name.lower(): value for name, value in request.headers.items()},
                body,
            )
        )
        queue = self._answers.get((request.method, request.path))
        if not queue:
            return web.json_response({"error": "no recorded answer"}, status=404)
        status, raw, headers, delay_s = queue.pop(0) if len(queue) > 1 else queue[0]
        if delay_s:
            await asyncio.sleep(delay_s)
        return web.Response(
            status=status, body=raw, headers=headers, content_type="application/json"
        )


@asynccontextmanager
async def carrier_server() -> AsyncIterator[CarrierServer]:
    server = CarrierServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server._handle)
    async with TestServer(app) as http:
        server.base_url = str(http.make_url("")).rstrip("/")
        yield server
