"""USPS Tracking v3 client (OAuth client credentials) over an injected aiohttp session.

Answers are read by the same parser as subscription notifications, so both give the same events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
import orjson

from carriers.base import ParseResult
from carriers.oauth import ClientCredentials, TokenRequest, authorized_json
from carriers.usps.parse import parse

PRODUCTION_URL = "https://apis.usps.com"
TEST_URL = "https://apis-tem.usps.com"


class UspsClient:
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
                url=f"{self._base_url}/oauth2/v3/token",
                client_id=client_id,
                client_secret=client_secret,
                basic_auth=False,
                extra_form={"scope": "tracking"},
                extra_headers={},
            ),
        )

    async def track(self, tracking_number: str, received_at: datetime | None = None) -> ParseResult:
        """The mail piece's scans and expected delivery as canonical events."""
        answer = await self.track_json(tracking_number)
        return parse(orjson.dumps(answer), {}, received_at or datetime.now(UTC))

    async def track_json(self, tracking_number: str) -> object:
        """The Tracking API's answer as sent (the poll role publishes it as a raw payload)."""
        url = (
            f"{self._base_url}/tracking/v3/tracking/{quote(tracking_number, safe='')}?expand=DETAIL"
        )
        return await authorized_json(self._session, self._tokens, "GET", url, headers={})
