"""The one way outbound tracking clients call an API: through an injected aiohttp session.

Clients never create sessions (the caller owns connection pools, timeouts and shutdown), and
every failure surfaces as :class:`carriers.errors.TrackingApiError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.errors import TrackingApiError

DEFAULT_TIMEOUT_S = 15.0
_ERROR_BODY_CHARS = 300


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Any = None,
    form: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Any:
    """The decoded JSON answer of one call (``body`` sent as JSON, ``form`` URL-encoded);
    raises :class:`TrackingApiError` otherwise."""
    data = orjson.dumps(body) if body is not None else None
    all_headers = {"accept": "application/json", **headers}
    if data is not None:
        all_headers["content-type"] = "application/json"
    elif form is not None:
        data = urlencode(form).encode()
        all_headers["content-type"] = "application/x-www-form-urlencoded"
    try:
        async with session.request(
            method,
            url,
            data=data,
            headers=all_headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            raw = await response.read()
            status = response.status
            retry_after = response.headers.get("Retry-After")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TrackingApiError(f"{method} {url}: {error!r}") from error
    if not 200 <= status < 300:
        excerpt = raw[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
        message = f"{method} {url}: HTTP {status}: {excerpt}"
        raise TrackingApiError(message, status, retry_after_seconds(retry_after))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise TrackingApiError(f"{method} {url}: answer is not JSON", status) from error


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date (``None``: absent or
    unreadable)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
