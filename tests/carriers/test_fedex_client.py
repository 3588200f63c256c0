"""The FedEx Track API client against a real local server answering with recorded responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from carriers.base import ProblemCode
from carriers.errors import TrackingApiError
from carriers.fedex.client import FedexClient
from carriers.fedex.parse import parse
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "fedex"
TOKEN_PATH = "/oauth/token"
TRACK_PATH = "/track/v1/trackingnumbers"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
TOKEN = {"access_token": "fdx-token", "token_type": "bearer", "expires_in": 3599, "scope": "CXS"}


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


async def test_tracks_numbers_with_a_client_credentials_token(server: CarrierServer) -> None:
    recorded = (FIXTURES / "in_transit_edd.json").read_bytes()
    server.answer("POST", TOKEN_PATH, TOKEN)
    server.answer("POST", TRACK_PATH, orjson.loads(recorded))

    async with aiohttp.ClientSession() as session:
        client = FedexClient(session, "api-key", "secret-key", base_url=server.base_url)
        result = await client.track(["776811428530"], received_at=NOW)

    assert result == parse(recorded, {}, NOW)
    assert [event.kind for event in result.events][-1] == "edd.revised"
    (token_call,) = server.calls_to(TOKEN_PATH)
    assert token_call.form() == {
        "grant_type": "client_credentials",
        "client_id": "api-key",
        "client_secret": "secret-key",
    }
    assert token_call.headers["content-type"] == "application/x-www-form-urlencoded"
    (track_call,) = server.calls_to(TRACK_PATH)
    assert track_call.headers["authorization"] == "Bearer fdx-token"
    assert track_call.json() == {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": "776811428530"}}],
    }


async def test_a_number_fedex_does_not_know_is_a_problem_not_an_error(
    server: CarrierServer,
) -> None:
    server.answer("POST", TOKEN_PATH, TOKEN)
    server.answer("POST", TRACK_PATH, orjson.loads((FIXTURES / "not_found.json").read_bytes()))
    async with aiohttp.ClientSession() as session:
        client = FedexClient(session, "id", "secret", base_url=server.base_url)
        result = await client.track(["123456789012"], received_at=NOW)
    assert result.events == ()
    assert [p.code for p in result.problems] == [ProblemCode.UNSUPPORTED]


async def test_server_errors_surface_as_api_errors(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, TOKEN)
    server.answer("POST", TRACK_PATH, b"<html>upstream timeout</html>", status=503)
    async with aiohttp.ClientSession() as session:
        client = FedexClient(session, "id", "secret", base_url=server.base_url)
        with pytest.raises(TrackingApiError) as raised:
            await client.track(["776811428530"])
    assert raised.value.status == 503


async def test_batch_size_is_checked_before_any_call(server: CarrierServer) -> None:
    async with aiohttp.ClientSession() as session:
        client = FedexClient(session, "id", "secret", base_url=server.base_url)
        with pytest.raises(ValueError, match="1 to 30"):
            await client.track([str(n) for n in range(31)])
    assert server.calls == []
