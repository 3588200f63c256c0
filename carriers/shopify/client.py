"""Shopify Admin REST API poller over an injected aiohttp session.

Webhooks are the primary feed; the poller catches up after downtime (orders updated since a
cursor) and fetches a fulfilment's tracking events together with the tracking numbers the
``fulfillment_events/create`` webhook leaves out. Answers go through the webhook parser, so a
polled order and a pushed one give the same events (and ids).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.base import ParseResult
from carriers.errors import TrackingApiError
from carriers.http import request_json
from carriers.shopify.parse import TOPIC_HEADER, parse

DEFAULT_API_VERSION = "2024-10"
PAGE_SIZE = 250


class ShopifyClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        shop_domain: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
    ) -> None:
        self._session = session
        self._headers = {"X-Shopify-Access-Token": access_token}
        root = base_url.rstrip("/") if base_url else f"https://{shop_domain}"
        self._api = f"{root}/admin/api/{api_version}"

    async def orders_updated_since(
        self, updated_at_min: datetime, received_at: datetime | None = None
    ) -> ParseResult:
        """The events of the orders (oldest update first, one page of 250) updated at or after
        ``updated_at_min``; the caller moves its cursor to the newest ``order.changed``."""
        query = {
            "status": "any",
            "updated_at_min": updated_at_min.astimezone(UTC).isoformat(),
            "order": "updated_at asc",
            "limit": PAGE_SIZE,
        }
        answer = await self._get(f"/orders.json?{urlencode(query)}")
        orders = _list(answer, "orders")
        return _parse_each(orders, "orders/updated", received_at)

    async def fulfilment_events(
        self, order_id: str, fulfilment_id: str, received_at: datetime | None = None
    ) -> ParseResult:
        """A fulfilment's tracking events, on its own tracking numbers."""
        base = f"/orders/{int(order_id)}/fulfillments/{int(fulfilment_id)}"
        answer = await self._get(f"{base}.json")
        fulfilment = answer.get("fulfillment") if isinstance(answer, dict) else None
        if not isinstance(fulfilment, dict):
            raise TrackingApiError("Shopify answer has no fulfillment")
        parcels = {
            "tracking_numbers": fulfilment.get("tracking_numbers"),
            "tracking_number": fulfilment.get("tracking_number"),
            "tracking_company": fulfilment.get("tracking_company"),
        }
        events = _list(await self._get(f"{base}/events.json"), "fulfillment_events")
        enriched = [{**event, **parcels} for event in events if isinstance(event, dict)]
        return _parse_each(enriched, "fulfillment_events/create", received_at)

    async def _get(self, path: str) -> Any:
        return await request_json(self._session, "GET", self._api + path, headers=self._headers)


def _list(answer: Any, key: str) -> list[Any]:
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise TrackingApiError(f"Shopify answer has no {key!r} list")
    return items


def _parse_each(bodies: list[Any], topic: str, received_at: datetime | None) -> ParseResult:
    at = received_at or datetime.now(UTC)
    results = [parse(orjson.dumps(body), {TOPIC_HEADER: topic}, at) for body in bodies]
    return ParseResult(
        tuple(e for r in results for e in r.events), tuple(p for r in results for p in r.problems)
    )
