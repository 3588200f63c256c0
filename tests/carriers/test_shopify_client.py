"""The Shopify Admin API poller against a real local server answering with recorded bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from carriers.errors import TrackingApiError
from carriers.registry import get
from carriers.shopify.client import ShopifyClient
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "shopify"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
API = "/admin/api/2024-10"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


def _recorded(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


async def test_polled_orders_give_the_same_events_as_the_webhook(server: CarrierServer) -> None:
    order = _recorded("order_updated_with_fulfillment")
    server.answer("GET", f"{API}/orders.json", {"orders": [order, _recorded("order_cancelled")]})

    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(
            session, "atelier-lyon.myshopify.com", TOKEN, base_url=server.base_url
        )
        polled = await client.orders_updated_since(datetime(2024, 5, 3, 12, tzinfo=UTC), NOW)

    pushed = get("shopify").parse(
        (FIXTURES / "order_updated_with_fulfillment.json").read_bytes(),
        {"x-shopify-topic": "orders/updated"},
        NOW,
    )
    assert polled.events[: len(pushed.events)] == pushed.events
    assert {e.order_id for e in polled.events} == {"5719327441044", "5719327999001"}
    (call,) = server.calls
    assert call.headers["x-shopify-access-token"] == TOKEN
    assert call.query == {
        "status": "any",
        "updated_at_min": "2024-05-03T12:00:00+00:00",
        "order": "updated_at asc",
        "limit": "250",
    }


async def test_fulfilment_events_are_put_on_the_fulfilments_tracking_numbers(
    server: CarrierServer,
) -> None:
    base = f"{API}/orders/5719327441044/fulfillments/5012345999001"
    server.answer(
        "GET", f"{base}.json", {"fulfillment": _recorded("fulfillment_create_two_parcels")}
    )
    event = _recorded("fulfillment_event_out_for_delivery") | {"fulfillment_id": 5012345999001}
    server.answer("GET", f"{base}/events.json", {"fulfillment_events": [event]})

    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(
            session, "atelier-lyon.myshopify.com", TOKEN, base_url=server.base_url
        )
        result = await client.fulfilment_events("5719327441044", "5012345999001", NOW)

    assert result.problems == ()
    assert [e.tracking_number for e in result.events] == [
        "9400111899223197428497",
        "9400111899223197428503",
    ]
    assert {e.payload.carrier for e in result.events if e.kind == "tracking.checkpoint"} == {"usps"}


async def test_an_api_error_is_raised_as_a_tracking_api_error(server: CarrierServer) -> None:
    server.answer("GET", f"{API}/orders.json", {"errors": "[API] Invalid API key"}, status=401)

    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(
            session, "atelier-lyon.myshopify.com", "bad", base_url=server.base_url
        )
        with pytest.raises(TrackingApiError) as raised:
            await client.orders_updated_since(NOW, NOW)

    assert raised.value.status == 401
