"""The Shopify Admin API listing against a real local server answering with recorded bodies:
what it lists parses exactly as the pushed webhooks, it follows ``Link: rel="next"``, waits as
429s ask, and names a malformed answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from carriers.errors import TrackingApiError
from carriers.listing import ListedPage, ListingError
from carriers.registry import get
from carriers.retry import Retry
from carriers.shopify.client import ShopifyClient
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "shopify"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SINCE = datetime(2024, 5, 3, 12, tzinfo=UTC)
API = "/admin/api/2024-10"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


def _recorded(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


async def _pages(client: ShopifyClient, until: datetime | None = None) -> list[ListedPage]:
    return [page async for page in client.pages("orders", SINCE, until)]


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def test_listed_orders_parse_as_the_pushed_webhooks(server: CarrierServer) -> None:
    order = _recorded("order_updated_with_fulfillment")
    server.answer("GET", f"{API}/orders.json", {"orders": [order, _recorded("order_cancelled")]})

    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(
            session, "atelier-lyon.myshopify.com", TOKEN, base_url=server.base_url
        )
        (page,) = await _pages(client, until=NOW)

    shopify = get("shopify")
    pushed = shopify.parse(
        (FIXTURES / "order_updated_with_fulfillment.json").read_bytes(),
        {"x-shopify-topic": "orders/updated"},
        NOW,
    )
    first = page.objects[0]
    listed = shopify.parse(first.body, first.http_headers, NOW)
    assert listed.events == pushed.events
    # the order, each of its fulfilments as a fulfilments/update delivery, then the next order
    kinds = [o.kind for o in page.objects]
    assert kinds[0] == "shopify:order"
    assert kinds[-1] == "shopify:order"
    assert set(kinds[1:-1]) == {"shopify:fulfillment"}
    assert all(o.http_headers["x-shopify-topic"] for o in page.objects)
    assert page.newest == max(o.updated_at for o in page.objects if o.kind == "shopify:order")
    (call,) = server.calls
    assert call.headers["x-shopify-access-token"] == TOKEN
    assert call.query == {
        "status": "any",
        "updated_at_min": "2024-05-03T12:00:00+00:00",
        "updated_at_max": "2024-06-01T00:00:00+00:00",
        "order": "updated_at asc",
        "limit": "250",
    }


async def test_the_same_range_twice_gives_the_same_delivery_ids(server: CarrierServer) -> None:
    server.answer("GET", f"{API}/orders.json", {"orders": [_recorded("order_cancelled")]})
    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(session, "shop", TOKEN, base_url=server.base_url)
        first, second = await _pages(client), await _pages(client)
    ids = [o.delivery_id for o in first[0].objects]
    assert ids == [o.delivery_id for o in second[0].objects]
    assert all(i.startswith("sync:shopify:order:") for i in ids)
    assert [o.http_headers["x-shopify-webhook-id"] for o in first[0].objects] == ids


async def test_pages_follow_the_link_header(server: CarrierServer) -> None:
    next_url = f"{server.base_url}{API}/orders_page_two.json?page_info=abc"
    server.answer(
        "GET",
        f"{API}/orders.json",
        {"orders": [_recorded("order_cancelled")]},
        headers={"Link": f'<{next_url}>; rel="next"'},
    )
    server.answer("GET", f"{API}/orders_page_two.json", {"orders": []})
    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(session, "shop", TOKEN, base_url=server.base_url)
        pages = await _pages(client)
    assert [len(p.objects) for p in pages] == [1, 0]
    assert pages[1].newest is None
    assert server.calls[1].query == {"page_info": "abc"}


async def test_429_waits_as_retry_after_asks_and_5xx_backs_off(server: CarrierServer) -> None:
    orders = f"{API}/orders.json"
    server.answer("GET", orders, {"errors": "Exceeded"}, 429, headers={"Retry-After": "2.5"})
    server.answer("GET", orders, {"errors": "oops"}, 502)
    server.answer("GET", orders, {"orders": []})
    waits = Waits()
    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(
            session, "shop", TOKEN, base_url=server.base_url, retry=Retry(sleep=waits)
        )
        pages = await _pages(client)
    assert [len(p.objects) for p in pages] == [0]
    assert waits.seconds == [2.5, 1.0]  # as asked; then the second back-off step


async def test_a_refused_token_is_raised_at_once(server: CarrierServer) -> None:
    server.answer("GET", f"{API}/orders.json", {"errors": "[API] Invalid API key"}, status=401)
    waits = Waits()
    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(
            session, "shop", "bad", base_url=server.base_url, retry=Retry(sleep=waits)
        )
        with pytest.raises(TrackingApiError) as raised:
            await _pages(client)
    assert raised.value.status == 401
    assert waits.seconds == []
    assert len(server.calls) == 1


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"order": []}, r"page 1\): the answer has no 'orders' list"),
        ({"orders": [{"name": "#1"}]}, r"orders\[0\]: not an order with an id"),
        ({"orders": [{"id": 1, "updated_at": "soon"}]}, r"unreadable update time 'soon'"),
        (
            {
                "orders": [
                    {"id": 1, "updated_at": "2024-05-04T10:00:00Z", "fulfillments": {"id": 1}}
                ]
            },
            r"'fulfillments' is not a list",
        ),
    ],
)
async def test_a_malformed_answer_names_where(
    server: CarrierServer, answer: object, said: str
) -> None:
    server.answer("GET", f"{API}/orders.json", answer)
    async with aiohttp.ClientSession() as session:
        client = ShopifyClient(session, "shop", TOKEN, base_url=server.base_url)
        with pytest.raises(ListingError, match=said):
            await _pages(client)
