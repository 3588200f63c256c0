"""DHL Shipment Tracking - Unified API client over an injected aiohttp session.

Unlike the other carriers' tracking APIs this one does not use OAuth: the application's key goes
in the ``DHL-API-Key`` header. Answers are read by the same parser as push notifications.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.base import ParseResult
from carriers.dhl.parse import parse
from carriers.http import request_json

PRODUCTION_URL = "https://api-eu.dhl.com"


class DhlClient:
    def __init__(
        self, session: aiohttp.ClientSession, api_key: str, *, base_url: str = PRODUCTION_URL
    ) -> None:
        self._session = session
        self._headers = {"DHL-API-Key": api_key}
        self._base_url = base_url.rstrip("/")

    async def track(
        self,
        tracking_number: str,
        service: str | None = None,
        received_at: datetime | None = None,
    ) -> ParseResult:
        """The shipment's events and estimated delivery as canonical events; ``service``
        (``express``, ``parcel-de``…) narrows the search when a number is ambiguous."""
        answer = await self.track_json(tracking_number, service)
        return parse(orjson.dumps(answer), {}, received_at or datetime.now(UTC))

    async def track_json(self, tracking_number: str, service: str | None = None) -> object:
        """The API's answer as sent (the poll role publishes it as a raw payload)."""
        query = {"trackingNumber": tracking_number} | ({"service": service} if service else {})
        url = f"{self._base_url}/track/shipments?{urlencode(query)}"
        answer: object = await request_json(self._session, "GET", url, headers=self._headers)
        return answer
