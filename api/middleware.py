"""Middlewares: JSON error bodies for every failure, request metrics, one JSON access-log line.

Every error leaves as ``{"error": code, "reason": text}``: an :class:`~api.errors.ApiError`
with its own status, aiohttp's HTTP exceptions (404/405/413 raised by the router and the body
reader) mapped to the same shape, and anything unexpected logged and answered 500 without
internals.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.errors import ApiError
from api.keys import METRICS, REQUEST_METRICS, RequestMetrics
from projections.errors import StoreUnavailable

log = logging.getLogger("api.access")
_MAX_REMEMBERED = 1000

_HTTP_ERRORS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _from_http(error: web.HTTPException) -> web.StreamResponse:
    if error.status < 400:
        return error
    code = _HTTP_ERRORS.get(error.status, "http_error")
    headers = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
    return error_response(error.status, {"error": code, "reason": error.reason}, headers)


def route_template(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    return resource.canonical if resource is not None else "unmatched"


def _metrics(request: web.Request, route: str, status: int) -> RequestMetrics:
    """The request counter and latency histogram of one route, method and status: looked up by
    label once per process (``labels()`` costs more than the observation itself)."""
    key = (route, request.method, status)
    known = request.app[REQUEST_METRICS]
    found = known.get(key)
    if found is None:
        metrics = request.app[METRICS]
        found = (
            metrics.requests.labels(route, request.method, str(status)),
            metrics.latency.labels(route),
        )
        if len(known) < _MAX_REMEMBERED:  # methods are client-chosen text: keep a bound
            known[key] = found
    return found


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(error.status, error.body(), error.headers)
    except (StoreUnavailable, RedisConnectionError, RedisTimeoutError) as error:
        log.warning("backing service unavailable: %s", error)
        body = {"error": "unavailable", "reason": "a backing service is unreachable; retry later"}
        response = error_response(503, body, {"Retry-After": "1"})
    except web.HTTPException as error:
        response = _from_http(error)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {"error": "internal_error", "reason": "unexpected server error"}
        response = error_response(500, body)
    elapsed = time.perf_counter() - started
    route = route_template(request)
    count, latency = _metrics(request, route, response.status)
    count.inc()
    latency.observe(elapsed)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "path": request.path,
                "status": response.status,
                "ms": round(elapsed * 1000, 3),
            },
        )
    return response
