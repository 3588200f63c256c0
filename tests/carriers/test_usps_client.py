"""The USPS Tracking v3 client against a real local server answering with recorded responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from carriers.errors import TrackingApiError
from carriers.usps.client import UspsClient
from carriers.usps.parse import parse
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "usps"
NUMBER = "9405511899223197428490"
TOKEN_PATH = "/oauth2/v3/token"
TRACK_PATH = f"/tracking/v3/tracking/{NUMBER}"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
TOKEN = {"access_token": "usps-token", "token_type": "Bearer", "expires_in": 28799}


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


async def test_tracks_a_piece_in_detail(server: CarrierServer) -> None:
    recorded = (FIXTURES / "delivered_front_door.json").read_bytes()
    server.answer("POST", TOKEN_PATH, TOKEN)
    server.answer("GET", TRACK_PATH, orjson.loads(recorded))

    async with aiohttp.ClientSession() as session:
        client = UspsClient(session, "consumer-key", "consumer-secret", base_url=server.base_url)
        result = await client.track(NUMBER, received_at=NOW)

    assert result == parse(recorded, {}, NOW)
    assert len(result.events) == 6
    (token_call,) = server.calls_to(TOKEN_PATH)
    assert token_call.form() == {
        "grant_type": "client_credentials",
        "scope": "tracking",
        "client_id": "consumer-key",
        "client_secret": "consumer-secret",
    }
    (track_call,) = server.calls_to(TRACK_PATH)
    assert track_call.query == {"expand": "DETAIL"}
    assert track_call.headers["authorization"] == "Bearer usps-token"


async def test_not_found_is_an_api_error_with_the_usps_reason(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, TOKEN)
    server.answer(
        "GET", TRACK_PATH, orjson.loads((FIXTURES / "error_not_found.json").read_bytes()), 404
    )
    async with aiohttp.ClientSession() as session:
        client = UspsClient(session, "id", "secret", base_url=server.base_url)
        with pytest.raises(TrackingApiError, match="tracking number was not found"):
            await client.track(NUMBER)


async def test_refused_credentials_are_an_api_error(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, {"error": "invalid_client"}, status=401)
    async with aiohttp.ClientSession() as session:
        client = UspsClient(session, "id", "wrong", base_url=server.base_url)
        with pytest.raises(TrackingApiError) as raised:
            await client.track(NUMBER)
    assert raised.value.status == 401
    assert server.calls_to(TRACK_PATH) == []
