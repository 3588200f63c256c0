"""The UPS Track API client against a real local server answering with recorded responses."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from carriers.errors import TrackingApiError
from carriers.ups.client import UpsClient
from carriers.ups.parse import parse
from tests.carriers.carrier_server import CarrierServer, carrier_server

FIXTURES = Path(__file__).parent / "ups"
NUMBER = "1Z5338FF0107231059"
TOKEN_PATH = "/security/v1/oauth/token"
TRACK_PATH = f"/api/track/v1/details/{NUMBER}"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


def _token(value: str) -> dict[str, str]:
    # UPS states expires_in as a string of seconds
    return {
        "token_type": "Bearer",
        "access_token": value,
        "expires_in": "14399",
        "status": "approved",
    }


async def test_tracks_with_a_client_credentials_token(server: CarrierServer) -> None:
    recorded = (FIXTURES / "track_delivered.json").read_bytes()
    server.answer("POST", TOKEN_PATH, _token("tok-1"))
    server.answer("GET", TRACK_PATH, orjson.loads(recorded))

    async with aiohttp.ClientSession() as session:
        client = UpsClient(session, "client-id", "client-secret", base_url=server.base_url)
        first = await client.track(NUMBER, received_at=NOW)
        second = await client.track(NUMBER, received_at=NOW)

    assert first == second == parse(recorded, {}, NOW)
    assert len(first.events) == 6
    (token_call,) = server.calls_to(TOKEN_PATH)  # the token is reused for the second call
    expected_auth = base64.b64encode(b"client-id:client-secret").decode()
    assert token_call.headers["authorization"] == f"Basic {expected_auth}"
    assert token_call.form() == {"grant_type": "client_credentials"}
    track_calls = server.calls_to(TRACK_PATH)
    assert len(track_calls) == 2
    assert all(c.headers["authorization"] == "Bearer tok-1" for c in track_calls)
    assert all(c.headers["transactionsrc"] == "wismo" and c.headers["transid"] for c in track_calls)
    assert track_calls[0].headers["transid"] != track_calls[1].headers["transid"]
    assert track_calls[0].query["locale"] == "en_US"


async def test_a_rejected_token_is_renewed_once(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, _token("stale"))
    server.answer("POST", TOKEN_PATH, _token("fresh"))
    server.answer("GET", TRACK_PATH, {"response": {"errors": [{"code": "250002"}]}}, status=401)
    server.answer("GET", TRACK_PATH, orjson.loads((FIXTURES / "track_delivered.json").read_bytes()))

    async with aiohttp.ClientSession() as session:
        client = UpsClient(session, "id", "secret", base_url=server.base_url)
        result = await client.track(NUMBER, received_at=NOW)

    assert len(result.events) == 6
    assert [c.headers["authorization"] for c in server.calls_to(TRACK_PATH)] == [
        "Bearer stale",
        "Bearer fresh",
    ]


async def test_an_unknown_number_is_an_api_error(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, _token("tok"))
    server.answer(
        "GET",
        TRACK_PATH,
        {"response": {"errors": [{"code": "151018", "message": "Invalid tracking number"}]}},
        status=404,
    )
    async with aiohttp.ClientSession() as session:
        client = UpsClient(session, "id", "secret", base_url=server.base_url)
        with pytest.raises(TrackingApiError, match="151018") as raised:
            await client.track(NUMBER)
    assert raised.value.status == 404


async def test_a_token_answer_without_token_is_an_api_error(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, {"status": "approved"})
    async with aiohttp.ClientSession() as session:
        client = UpsClient(session, "id", "secret", base_url=server.base_url)
        with pytest.raises(TrackingApiError, match="access_token"):
            await client.track(NUMBER)
    assert server.calls_to(TRACK_PATH) == []
