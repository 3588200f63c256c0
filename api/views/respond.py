"""JSON responses with orjson, and conditional GETs on a timeline's digest."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from api.order_cache import EncodedAnswer
from projections.timeline_model import Timeline


def json(
    document: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(document), status=status, content_type="application/json", headers=headers
    )


def etag_for(timeline: Timeline, *scope: str) -> str:
    """A strong validator: the timeline's version and digest (plus what the answer is scoped to)."""
    parts = [str(timeline.version), timeline.digest, *scope]
    return '"' + "-".join(parts) + '"'


def not_modified(request: web.Request, etag: str) -> bool:
    """The client's ``If-None-Match`` names ``etag`` (or is ``*``)."""
    wanted = request.headers.get("If-None-Match")
    if not wanted:
        return False
    return etag in (tag.strip() for tag in wanted.split(",")) or wanted.strip() == "*"


#: what a customer's own answers carry: no shared cache keeps them, and clients revalidate
PRIVATE_NO_CACHE = "private, no-cache"


def encoded(request: web.Request, answer: EncodedAnswer) -> web.Response:
    """304 when the client's ``If-None-Match`` names the answer's ETag; else the answer."""
    if not_modified(request, answer.etag):
        return web.Response(status=304, headers=answer.not_modified_headers)
    return web.Response(body=answer.body, headers=answer.headers)
