"""Shopify Admin REST API listing over an injected aiohttp session, for catching up.

Webhooks are the primary feed; after downtime or a lost delivery, ``wismo sync shopify`` pages
through ``GET /admin/api/<version>/orders.json`` with ``status=any``, ``updated_at_min`` /
``updated_at_max``, oldest update first, following the ``Link: rel="next"`` header (cursor-based
``page_info`` pages). Every order is given as an ``orders/updated`` delivery and each of its
fulfilments as a ``fulfillments/update`` delivery — the webhook bodies are the REST objects — so
the webhook parser reads them exactly as pushed ones (see :mod:`carriers.listing`).

Calls go through a :class:`carriers.retry.Retry` (429 after ``Retry-After``, 5xx and transport
errors with back-off); an answer of the wrong shape raises :class:`carriers.listing.ListingError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from carriers.http import JsonAnswer, fetch_json
from carriers.listing import Listed, ListedPage, ListingError, listed_delivery_id, listed_time
from carriers.retry import Retry
from carriers.shopify.parse import TOPIC_HEADER, WEBHOOK_ID_HEADER

DEFAULT_API_VERSION = "2024-10"
PAGE_SIZE = 250
SOURCE = "shopify"


class ShopifyClient:
    """The orders (and the fulfilments inside them) of one shop."""

    source: str = SOURCE
    streams: tuple[str, ...] = ("orders",)

    def __init__(
        self,
        session: aiohttp.ClientSession,
        shop_domain: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
        retry: Retry | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self._session = session
        self._headers = {"X-Shopify-Access-Token": access_token}
        root = base_url.rstrip("/") if base_url else f"https://{shop_domain}"
        self._api = f"{root}/admin/api/{api_version}"
        self._retry = retry or Retry()
        self._timeout_s = timeout_s

    async def pages(
        self, stream: str, since: datetime, until: datetime | None
    ) -> AsyncIterator[ListedPage]:
        """The orders updated from ``since`` to ``until`` (both inclusive), a page at a time."""
        if stream not in self.streams:
            raise ValueError(f"Shopify lists no {stream!r}")
        query: dict[str, str | int] = {
            "status": "any",
            "updated_at_min": since.astimezone(UTC).isoformat(),
            "order": "updated_at asc",
            "limit": PAGE_SIZE,
        }
        if until is not None:
            query["updated_at_max"] = until.astimezone(UTC).isoformat()
        url: str | None = f"{self._api}/orders.json?{urlencode(query)}"
        number = 0
        while url is not None:
            number += 1
            answer = await self._get(url)
            where = f"GET {url} (page {number})"
            orders = answer.body.get("orders") if isinstance(answer.body, dict) else None
            if not isinstance(orders, list):
                raise ListingError(f"{where}: the answer has no 'orders' list")
            objects: list[Listed] = []
            newest: datetime | None = None
            for n, order in enumerate(orders):
                order_objects = listed_order(order, f"{where}: orders[{n}]")
                changed = order_objects[0].updated_at
                newest = changed if newest is None else max(newest, changed)
                objects += order_objects
            yield ListedPage(stream, tuple(objects), newest)
            url = answer.links.get("next")

    async def _get(self, url: str) -> JsonAnswer:
        async def call() -> JsonAnswer:
            return await fetch_json(
                self._session, "GET", url, headers=self._headers, timeout_s=self._timeout_s
            )

        return await self._retry.call(call)


def listed_order(order: Any, where: str) -> list[Listed]:
    """An order, then each of its fulfilments, as the webhooks would deliver them."""
    if not isinstance(order, dict) or order.get("id") is None:
        raise ListingError(f"{where}: not an order with an id")
    updated_at = listed_time(order.get("updated_at"), where)
    out = [_listed("order", order, updated_at, "orders/updated")]
    fulfilments = order.get("fulfillments") or []
    if not isinstance(fulfilments, list):
        raise ListingError(f"{where}: 'fulfillments' is not a list")
    for n, fulfilment in enumerate(fulfilments):
        here = f"{where}.fulfillments[{n}]"
        if not isinstance(fulfilment, dict) or fulfilment.get("id") is None:
            raise ListingError(f"{here}: not a fulfilment with an id")
        stamp = fulfilment.get("updated_at") or fulfilment.get("created_at")
        changed = listed_time(stamp, here) if stamp else updated_at
        body = {"order_id": order["id"], **fulfilment}
        out.append(_listed("fulfillment", body, changed, "fulfillments/update"))
    return out


def _listed(kind: str, body: dict[str, Any], at: datetime, topic: str) -> Listed:
    object_id = str(body["id"])
    full_kind = f"{SOURCE}:{kind}"
    headers = {TOPIC_HEADER: topic, WEBHOOK_ID_HEADER: listed_delivery_id(full_kind, object_id, at)}
    return Listed(full_kind, object_id, at, orjson.dumps(body), headers)
