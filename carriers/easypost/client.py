"""EasyPost trackers API client: create a tracker, read one back as canonical events.

Takes an injected :class:`aiohttp.ClientSession`; authenticates with HTTP basic auth (the API
key as user name). Reads go through the same code as the webhook parser, so a polled tracker and
a pushed one give identical events (and ids).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from carriers.base import Collector, ParseResult
from carriers.decode import validate_item
from carriers.easypost.parse import FEED, add_tracker
from carriers.easypost.schema import Tracker
from carriers.http import request_json

DEFAULT_BASE_URL = "https://api.easypost.com/v2"


class EasyPostClient:
    def __init__(
        self, session: aiohttp.ClientSession, api_key: str, base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._session = session
        # HTTP basic auth with the key as user name and no password
        token = base64.b64encode(f"{api_key}:".encode()).decode()
        self._headers = {"authorization": f"Basic {token}"}
        self._base_url = base_url.rstrip("/")

    async def create_tracker(
        self, tracking_code: str, carrier: str | None = None, received_at: datetime | None = None
    ) -> tuple[str | None, ParseResult]:
        """Start tracking a parcel; returns the tracker id and what EasyPost already knows."""
        tracker: dict[str, Any] = {"tracking_code": tracking_code}
        if carrier:
            tracker["carrier"] = carrier
        answer = await request_json(
            self._session,
            "POST",
            f"{self._base_url}/trackers",
            headers=self._headers,
            body={"tracker": tracker},
        )
        identifier = answer.get("id") if isinstance(answer, dict) else None
        result = self._events(answer, received_at)
        return (identifier if isinstance(identifier, str) else None), result

    async def tracker(self, tracker_id: str, received_at: datetime | None = None) -> ParseResult:
        """The tracker's tracking details and estimated delivery as canonical events."""
        return self._events(await self.tracker_json(tracker_id), received_at)

    async def tracker_json(self, tracker_id: str) -> object:
        """``GET /trackers/{id}`` as answered (the poll role publishes it as a raw payload)."""
        url = f"{self._base_url}/trackers/{quote(tracker_id, safe='')}"
        answer: object = await request_json(self._session, "GET", url, headers=self._headers)
        return answer

    @staticmethod
    def _events(answer: Any, received_at: datetime | None) -> ParseResult:
        now = received_at or datetime.now(UTC)
        tracker, problem = validate_item(answer, Tracker, None)
        if tracker is None:
            return ParseResult(problems=(problem,) if problem else ())
        stated_at = FEED.instant(tracker.updated_at) or now
        out = Collector()
        add_tracker(out, tracker, now, stated_at, "tracker")
        return out.result()
