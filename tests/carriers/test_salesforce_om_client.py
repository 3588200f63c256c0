"""The Salesforce REST poller against a real local server answering with recorded bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from carriers.errors import TrackingApiError
from carriers.salesforce_om.client import SalesforceOmClient
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "salesforce_om"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
QUERY = "/services/data/v61.0/query"
ORDER_ID = "1Os5g000000Ab12CAC"
TOKEN = "00D5g000004XyZa!AQ0AQH3kq.fake-session-token"


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


def _recorded(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _answer(*records: Any, done: bool = True, next_url: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"totalSize": len(records), "done": done, "records": list(records)}
    if next_url:
        answer["nextRecordsUrl"] = next_url
    return answer


async def test_an_order_summary_is_read_with_everything_that_hangs_off_it(
    server: CarrierServer,
) -> None:
    for answer in (
        _recorded("order_summary_query"),
        _answer(_recorded("fulfillment_order_pick_complete")),
        _answer(_recorded("shipment_delivered")),
        _answer(),  # no return orders
    ):
        server.answer("GET", QUERY, answer)

    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, TOKEN)
        result = await client.order_summary(ORDER_ID, NOW)

    assert result.problems == ()
    assert {e.order_id for e in result.events} == {ORDER_ID}
    assert [e.kind for e in result.events] == [
        "order.placed",
        "order.changed",
        "payment.authorized",
        "fulfilment.created",
        "fulfilment.picked",
        "fulfilment.shipped",
        "tracking.checkpoint",
    ]
    queries = [call.query["q"] for call in server.calls_to(QUERY)]
    assert [q.split(" FROM ")[-1] for q in queries] == [
        f"OrderSummary WHERE Id = '{ORDER_ID}'",
        f"FulfillmentOrder WHERE OrderSummaryId = '{ORDER_ID}'",
        f"Shipment WHERE OrderSummaryId = '{ORDER_ID}'",
        f"ReturnOrder WHERE OrderSummaryId = '{ORDER_ID}'",
    ]
    assert all(call.headers["authorization"] == f"Bearer {TOKEN}" for call in server.calls)


async def test_query_follows_next_records_url(server: CarrierServer) -> None:
    next_page = "/services/data/v61.0/query/01g5g00000AbCdE-2000"
    server.answer(
        "GET", QUERY, _answer(_recorded("return_order_approved"), done=False, next_url=next_page)
    )
    server.answer("GET", next_page, _answer(_recorded("return_order_closed")))

    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, TOKEN)
        result = await client.query("SELECT Id FROM ReturnOrder", NOW)

    assert [e.kind for e in result.events] == ["return.authorized", "return.received"]
    assert [c.path for c in server.calls] == [QUERY, next_page]


async def test_modified_since_queries_every_object_from_the_cursor(server: CarrierServer) -> None:
    server.answer("GET", QUERY, _answer())

    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, TOKEN)
        result = await client.modified_since(datetime(2024, 5, 2, 9, 0, 30, tzinfo=UTC), NOW)

    assert result.events == ()
    queries = [call.query["q"] for call in server.calls]
    assert len(queries) == 4
    assert all(
        q.endswith("WHERE LastModifiedDate > 2024-05-02T09:00:30Z ORDER BY LastModifiedDate")
        for q in queries
    )


async def test_only_record_ids_reach_the_query(server: CarrierServer) -> None:
    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, TOKEN)
        with pytest.raises(ValueError, match="not a Salesforce record id"):
            await client.order_summary("x' OR Id != '", NOW)
    assert server.calls == []


async def test_an_expired_session_is_a_tracking_api_error(server: CarrierServer) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    server.answer("GET", QUERY, expired, status=401)

    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, TOKEN)
        with pytest.raises(TrackingApiError) as raised:
            await client.query("SELECT Id FROM Shipment", NOW)

    assert raised.value.status == 401
