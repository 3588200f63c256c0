"""The one way outbound tracking clients call an API: through an injected aiohttp session.

Clients never create sessions (the caller owns connection pools, timeouts and shutdown), and
every failure surfaces as :class:`carriers.errors.TrackingApiError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.errors import TrackingApiError

DEFAULT_TIMEOUT_S = 15.0
_ERROR_BODY_CHARS = 300


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    """A decoded JSON answer and the ``Link`` header's URLs by relation (``next``, …)."""

    body: Any
    links: Mapping[str, str]


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
    answer = await fetch_json(
        session, method, url, headers=headers, body=body, form=form, timeout_s=timeout_s
    )
    return answer.body


async def fetch_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Any = None,
    form: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> JsonAnswer:
    """:func:`request_json` with the answer's ``Link`` header (paged listings follow it)."""
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
            links = {
                str(rel): str(link["url"])
                for rel, link in response.links.items()
                if link.get("url") is not None
            }
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TrackingApiError(f"{method} {url}: {error!r}") from error
    if not 200 <= status < 300:
        excerpt = raw[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
        message = f"{method} {url}: HTTP {status}: {excerpt}"
        raise TrackingApiError(message, status, retry_after_seconds(retry_after))
    try:
        return JsonAnswer(orjson.loads(raw), links)
    except orjson.JSONDecodeError as error:
        raise TrackingApiError(f"{method} {url}: answer is not JSON", status) from error


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header asks for: delta-seconds or an HTTP date
    (``None``: absent or unreadable; a date in the past is 0)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
