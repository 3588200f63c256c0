"""AfterShip Tracking API client: create a tracking, read one back as canonical events.

Takes an injected :class:`aiohttp.ClientSession`; authenticates with the ``as-api-key`` header.
Reads return a :class:`ParseResult` built by the same code as the webhook parser, so a polled
tracking and a pushed one give identical events (and ids).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from carriers.aftership.parse import add_tracking
from carriers.aftership.schema import Tracking
from carriers.base import Collector, ParseResult
from carriers.decode import validate_item
from carriers.http import request_json
from carriers.times import parse_timestamp

DEFAULT_BASE_URL = "https://api.aftership.com/tracking/2025-07"


class AfterShipClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self._session = session
        self._headers = {"as-api-key": api_key}
        self._base_url = base_url.rstrip("/")

    async def create_tracking(
        self, tracking_number: str, slug: str | None = None, order_id: str | None = None
    ) -> str | None:
        """Start tracking a parcel; returns AfterShip's tracking id."""
        body: dict[str, Any] = {"tracking_number": tracking_number}
        if slug:
            body["slug"] = slug
        if order_id:
            body["order_id"] = order_id
        answer = await request_json(
            self._session, "POST", f"{self._base_url}/trackings", headers=self._headers, body=body
        )
        tracking = _tracking_of(answer)
        identifier = tracking.get("id") if tracking else None
        return identifier if isinstance(identifier, str) else None

    async def tracking(self, tracking_id: str, received_at: datetime | None = None) -> ParseResult:
        """The tracking's checkpoints and estimated delivery as canonical events."""
        answer = await self.tracking_json(tracking_id)
        now = received_at or datetime.now(UTC)
        tracking, problem = validate_item(_tracking_of(answer), Tracking, "data")
        if tracking is None:
            return ParseResult(problems=(problem,) if problem else ())
        stated_at = parse_timestamp(tracking.updated_at, UTC) or now
        out = Collector()
        add_tracking(out, tracking, now, stated_at, "data")
        return out.result()

    async def tracking_json(self, tracking_id: str) -> object:
        """``GET /trackings/{id}`` as answered (the poll role publishes it as a raw payload)."""
        url = f"{self._base_url}/trackings/{quote(tracking_id, safe='')}"
        answer: object = await request_json(self._session, "GET", url, headers=self._headers)
        return answer


def _tracking_of(answer: Any) -> dict[str, Any] | None:
    """``data`` is the tracking itself in current API versions, ``data.tracking`` in older ones."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        return None
    nested = data.get("tracking")
    return nested if isinstance(nested, dict) else data
