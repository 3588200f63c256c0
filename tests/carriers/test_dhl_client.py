"""The DHL Unified tracking client against a real local server answering recorded responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from carriers.dhl.client import DhlClient
from carriers.dhl.parse import parse
from carriers.errors import TrackingApiError
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "dhl"
TRACK_PATH = "/track/shipments"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


async def test_tracks_with_the_api_key_header(server: CarrierServer) -> None:
    recorded = (FIXTURES / "express_delivered.json").read_bytes()
    server.answer("GET", TRACK_PATH, orjson.loads(recorded))

    async with aiohttp.ClientSession() as session:
        client = DhlClient(session, "dhl-key", base_url=server.base_url)
        result = await client.track("1234567890", service="express", received_at=NOW)

    assert result == parse(recorded, {}, NOW)
    assert len(result.events) == 7
    (call,) = server.calls
    assert call.headers["dhl-api-key"] == "dhl-key"
    assert call.query == {"trackingNumber": "1234567890", "service": "express"}


async def test_unknown_shipment_is_an_api_error(server: CarrierServer) -> None:
    server.answer("GET", TRACK_PATH, orjson.loads((FIXTURES / "not_found.json").read_bytes()), 404)
    async with aiohttp.ClientSession() as session:
        client = DhlClient(session, "dhl-key", base_url=server.base_url)
        with pytest.raises(TrackingApiError, match="No shipment") as raised:
            await client.track("0000000000")
    assert raised.value.status == 404
    assert server.calls[0].query == {"trackingNumber": "0000000000"}
