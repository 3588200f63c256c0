"""What guards every request of the API, wired once by :func:`install`:

- who the client is (:mod:`api.clients`, behind the configured trusted proxies only);
- the limiters: refused webhooks per client (in process), look-ups and public tracking reads
  per client and per order number (shared by every API process, in Redis);
- the headers every answer carries: ``X-Content-Type-Options: nosniff``, a ``Server`` that
  names no framework or version, and ``Cache-Control: no-store`` on answers that carry a
  capability token or what only agents may see;
- a quiet log for requests too malformed to reach the application (aiohttp answers those 400
  itself): one warning line without a traceback or the offending bytes.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from api.clients import CLIENTS, ClientAddresses
from api.keys import REDIS, SETTINGS
from api.ratelimit import Limit, RateLimiter, SharedLimiter
from api.views.webhooks import FAILURE_LIMITER
from wismo.settings import ApiSettings

SERVER = "wismo"
NO_STORE = "no-store"
#: answers no cache may keep: the look-up hands out a capability token; agents see personal data
_NO_STORE_PREFIXES = ("/v1/lookup", "/v1/agent/", "/v1/analytics/")

SHARED_LIMITER = web.AppKey("shared_limiter", SharedLimiter)


class Limits:
    """The shared buckets, from the settings."""

    def __init__(self, api: ApiSettings) -> None:
        self.lookup_client = Limit(
            "lookup-client", api.lookup_client_rate_per_s, api.lookup_client_burst
        )
        self.lookup_order = Limit(
            "lookup-order", api.lookup_order_per_hour / 3600, api.lookup_order_burst
        )
        self.tracking_client = Limit(
            "tracking-client", api.tracking_client_rate_per_s, api.tracking_client_burst
        )


LIMITS = web.AppKey("limits", Limits)


class _QuietServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server log, except that a request the HTTP parser refused is one warning line:
    no traceback at error level, and not the parser's message (it quotes the offending header)."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self.logger.warning(
                "refused a malformed HTTP request (%s %s)", type(error).__name__, error.code
            )
            return
        self.logger.exception(msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs


#: ``handler_args`` of the application: aiohttp's connection handler logs through the above
HANDLER_ARGS = {"logger": _QuietServerLog(logging.getLogger("aiohttp.server"), {})}


def install(app: web.Application) -> None:
    api = app[SETTINGS].api
    app[CLIENTS] = ClientAddresses.of(api.trusted_proxies)
    app[FAILURE_LIMITER] = RateLimiter(
        api.webhook_failure_rate_per_s, api.webhook_failure_burst, max_keys=api.limiter_clients
    )
    app[LIMITS] = Limits(api)
    app.on_startup.append(_shared_limiter)  # after the Redis client's cleanup context opened
    app.on_response_prepare.append(_headers)


async def _shared_limiter(app: web.Application) -> None:
    app[SHARED_LIMITER] = SharedLimiter(app[REDIS], app[SETTINGS].redis.key_prefix)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Server"] = SERVER
    headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith(_NO_STORE_PREFIXES):
        headers["Cache-Control"] = NO_STORE
