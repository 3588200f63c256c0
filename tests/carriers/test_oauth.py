"""Client-credentials tokens: fetched once, shared, renewed before they expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from carriers.oauth import REFRESH_MARGIN_S, ClientCredentials, TokenRequest
from tests.carriers.carrier_server import CarrierServer, carrier_server

TOKEN_PATH = "/token"


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


def _request(server: CarrierServer) -> TokenRequest:
    return TokenRequest(
        url=f"{server.base_url}{TOKEN_PATH}",
        client_id="id",
        client_secret="secret",
        basic_auth=False,
        extra_form={},
        extra_headers={},
    )


async def test_token_is_shared_until_shortly_before_expiry(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, {"access_token": "one", "expires_in": 600})
    server.answer("POST", TOKEN_PATH, {"access_token": "two", "expires_in": 600})
    now = [1000.0]
    async with aiohttp.ClientSession() as session:
        tokens = ClientCredentials(session, _request(server), clock=lambda: now[0])
        concurrent = await asyncio.gather(*(tokens.token() for _ in range(5)))
        now[0] += 600 - REFRESH_MARGIN_S - 1
        still = await tokens.token()
        now[0] += 2
        renewed = await tokens.token()
    assert concurrent == ["one"] * 5
    assert still == "one"
    assert renewed == "two"
    assert len(server.calls_to(TOKEN_PATH)) == 2


async def test_missing_lifetime_gets_a_short_default(server: CarrierServer) -> None:
    server.answer("POST", TOKEN_PATH, {"access_token": "one", "expires_in": "soon"})
    server.answer("POST", TOKEN_PATH, {"access_token": "two"})
    now = [0.0]
    async with aiohttp.ClientSession() as session:
        tokens = ClientCredentials(session, _request(server), clock=lambda: now[0])
        first = await tokens.token()
        now[0] += 300
        second = await tokens.token()
    assert (first, second) == ("one", "two")
