"""UPS Track API client (OAuth client credentials) over an injected aiohttp session.

Answers are read by the same parser as pushed payloads, so a polled package and a Track Alert
give the same events (and ids) for the same scans.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
import orjson

from carriers.base import ParseResult
from carriers.oauth import ClientCredentials, TokenRequest, authorized_json
from carriers.ups.parse import parse

PRODUCTION_URL = "https://onlinetools.ups.com"
TEST_URL = "https://wwwcie.ups.com"


class UpsClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = PRODUCTION_URL,
        merchant_id: str | None = None,
        transaction_source: str = "wismo",
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._source = transaction_source
        self._tokens = ClientCredentials(
            session,
            TokenRequest(
                url=f"{self._base_url}/security/v1/oauth/token",
                client_id=client_id,
                client_secret=client_secret,
                basic_auth=True,
                extra_form={},
                extra_headers={"x-merchant-id": merchant_id} if merchant_id else {},
            ),
        )

    async def track(self, tracking_number: str, received_at: datetime | None = None) -> ParseResult:
        """The package's activity and scheduled delivery as canonical events."""
        answer = await self.track_json(tracking_number)
        return parse(orjson.dumps(answer), {}, received_at or datetime.now(UTC))

    async def track_json(self, tracking_number: str) -> object:
        """The Track API's answer as sent (the poll role publishes it as a raw payload)."""
        url = (
            f"{self._base_url}/api/track/v1/details/{quote(tracking_number, safe='')}"
            "?locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false"
        )
        # transId only has to be unique per request (UPS uses it to trace calls)
        headers = {"transId": uuid.uuid4().hex, "transactionSrc": self._source}
        return await authorized_json(self._session, self._tokens, "GET", url, headers=headers)
