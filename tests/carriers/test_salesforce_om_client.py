"""The Salesforce OM listing against a real local server answering with recorded bodies: one
SOQL query per object type over the range, following ``nextRecordsUrl``; each record parses as
the callout parser reads a pushed one; a 401 renews client credentials (a fixed token is final)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from carriers.errors import TrackingApiError
from carriers.listing import ListedPage, ListingError
from carriers.oauth import ClientCredentials, FixedToken, TokenRequest
from carriers.registry import get
from carriers.salesforce_om.client import SOQL, SalesforceOmClient
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "salesforce_om"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SINCE = datetime(2024, 5, 2, 9, 0, 30, tzinfo=UTC)
QUERY = "/services/data/v61.0/query"
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


async def _pages(
    client: SalesforceOmClient, stream: str, until: datetime | None = None
) -> list[ListedPage]:
    return [page async for page in client.pages(stream, SINCE, until)]


async def test_each_object_type_is_one_query_over_the_range(server: CarrierServer) -> None:
    server.answer("GET", QUERY, _answer())
    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, FixedToken(TOKEN))
        for stream in client.streams:
            assert await _pages(client, stream, until=NOW) == [ListedPage(stream, (), None)]

    queries = [call.query["q"] for call in server.calls]
    assert [q.split(" FROM ")[-1].split(" WHERE ")[0] for q in queries] == list(SOQL)
    assert all(
        q.endswith(
            " WHERE LastModifiedDate >= 2024-05-02T09:00:30Z AND LastModifiedDate <= "
            "2024-06-01T00:00:00Z ORDER BY LastModifiedDate ASC"
        )
        for q in queries
    )
    assert all(call.headers["authorization"] == f"Bearer {TOKEN}" for call in server.calls)


async def test_pages_follow_next_records_url_and_parse_as_pushed(server: CarrierServer) -> None:
    first = _recorded("api_query_shipments_first_page")
    next_page = first["nextRecordsUrl"]
    server.answer("GET", QUERY, first)
    server.answer("GET", next_page, _answer(_recorded("shipment_delivered")))

    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, FixedToken(TOKEN))
        pages = await _pages(client, "Shipment")

    assert [c.path for c in server.calls] == [QUERY, next_page]
    assert [len(p.objects) for p in pages] == [2, 1]
    assert pages[0].newest == datetime(2024, 5, 6, 12, 0, 3, tzinfo=UTC)
    parser = get("salesforce_om")
    listed = pages[1].objects[0]
    pushed = parser.parse(orjson.dumps(_recorded("shipment_delivered")), {}, NOW)
    assert parser.parse(listed.body, listed.http_headers, NOW).events == pushed.events
    assert listed.delivery_id.startswith(f"sync:salesforce_om:Shipment:{listed.object_id}:")


async def test_a_record_without_its_type_gets_the_streams(server: CarrierServer) -> None:
    record = {k: v for k, v in _recorded("shipment_delivered").items() if k != "attributes"}
    server.answer("GET", QUERY, _answer(record))
    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, FixedToken(TOKEN))
        (page,) = await _pages(client, "Shipment")
    assert orjson.loads(page.objects[0].body)["attributes"] == {"type": "Shipment"}


async def test_a_401_renews_client_credentials_once(server: CarrierServer) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    server.answer("POST", "/services/oauth2/token", {"access_token": "a", "expires_in": 3600})
    server.answer("POST", "/services/oauth2/token", {"access_token": "b", "expires_in": 3600})
    server.answer("GET", QUERY, expired, status=401)
    server.answer("GET", QUERY, _answer())
    async with aiohttp.ClientSession() as session:
        tokens = ClientCredentials(
            session,
            TokenRequest(
                url=f"{server.base_url}/services/oauth2/token",
                client_id="cid",
                client_secret="cs",
                basic_auth=False,
                extra_form={},
                extra_headers={},
            ),
        )
        client = SalesforceOmClient(session, server.base_url, tokens)
        assert await _pages(client, "ReturnOrder") == [ListedPage("ReturnOrder", (), None)]
    assert [c.headers["authorization"] for c in server.calls_to(QUERY)] == ["Bearer a", "Bearer b"]


async def test_a_fixed_token_refused_is_final(server: CarrierServer) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    server.answer("GET", QUERY, expired, status=401)
    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, FixedToken(TOKEN))
        with pytest.raises(TrackingApiError) as raised:
            await _pages(client, "Shipment")
    assert raised.value.status == 401
    assert len(server.calls) == 1


async def test_a_malformed_answer_names_where(server: CarrierServer) -> None:
    server.answer("GET", QUERY, {"totalSize": 1, "done": True})
    server.answer("GET", QUERY, _answer({"Id": "0OB5g000000HxD2GAK"}))
    async with aiohttp.ClientSession() as session:
        client = SalesforceOmClient(session, server.base_url, FixedToken(TOKEN))
        with pytest.raises(ListingError, match=r"Shipment page 1\): the answer has no 'records'"):
            await _pages(client, "Shipment")
        with pytest.raises(ListingError, match=r"records\[0\]: no update time"):
            await _pages(client, "Shipment")
        with pytest.raises(ValueError, match="lists no 'Account'"):
            await _pages(client, "Account")
