"""Reading request bodies the same way everywhere: size limit, JSON content type, JSON decode."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def is_json(content_type: str) -> bool:
    return content_type in ("application/json", "text/json") or content_type.endswith("+json")


async def raw_body(request: web.Request, limit: int) -> bytes:
    """The body bytes; 413 before reading when the declared length is over ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body of {request.content_length} bytes; the limit is {limit}")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise PayloadTooLarge(f"body over the limit of {limit} bytes") from error


def require_json(request: web.Request) -> None:
    if not is_json(request.content_type):
        raise UnsupportedMediaType(
            f"expected application/json, got {request.content_type or 'no content type'}"
        )


async def json_object(request: web.Request, limit: int) -> dict[str, Any]:
    require_json(request)
    raw = await raw_body(request, limit)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"body is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise BadRequest("body must be a JSON object")
    return document
