"""FedEx Track API client (OAuth client credentials) over an injected aiohttp session.

Answers are read by the same parser as webhook pushes, so both give the same events (and ids).
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import orjson

from carriers.base import ParseResult
from carriers.fedex.parse import parse
from carriers.oauth import ClientCredentials, TokenRequest, authorized_json

PRODUCTION_URL = "https://apis.fedex.com"
SANDBOX_URL = "https://apis-sandbox.fedex.com"
MAX_NUMBERS = 30  # per Track API request


class FedexClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = PRODUCTION_URL,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._tokens = ClientCredentials(
            session,
            TokenRequest(
                url=f"{self._base_url}/oauth/token",
                client_id=client_id,
                client_secret=client_secret,
                basic_auth=False,
                extra_form={},
                extra_headers={},
            ),
        )

    async def track(
        self, tracking_numbers: list[str], received_at: datetime | None = None
    ) -> ParseResult:
        """Up to 30 parcels' scans and estimated delivery as canonical events."""
        answer = await self.track_json(tracking_numbers)
        return parse(orjson.dumps(answer), {}, received_at or datetime.now(UTC))

    async def track_json(self, tracking_numbers: list[str]) -> object:
        """The Track API's answer as sent (the poll role publishes it as a raw payload)."""
        if not 1 <= len(tracking_numbers) <= MAX_NUMBERS:
            raise ValueError(f"FedEx tracks 1 to {MAX_NUMBERS} numbers per request")
        body = {
            "includeDetailedScans": True,
            "trackingInfo": [
                {"trackingNumberInfo": {"trackingNumber": number}} for number in tracking_numbers
            ],
        }
        return await authorized_json(
            self._session,
            self._tokens,
            "POST",
            f"{self._base_url}/track/v1/trackingnumbers",
            headers={"x-locale": "en_US"},
            body=body,
        )
