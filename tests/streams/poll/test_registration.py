"""Tracker registration against local servers answering like AfterShip and EasyPost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from projections.poll.plan import Registration, source_of_carrier
from projections.poll.registrations import RegistrationMarks
from streams.poll.apis import tracker_registration
from streams.poll.registration import TrackerRegistrar
from tests.carriers.carrier_server import CarrierServer, carrier_server
from tests.projections.conftest import REDIS_URL, drop_prefix
from wismo.settings import CarrierCredentials

GLS = Registration("GLS123", "GLS", "O1")
UPS = Registration("1Z1", "UPS", "O2")


@pytest.fixture
async def marks() -> AsyncIterator[RegistrationMarks]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield RegistrationMarks(client, prefix, 3600)
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


@pytest.fixture
async def server() -> AsyncIterator[CarrierServer]:
    async with carrier_server() as running:
        yield running


def _registrar(
    session: aiohttp.ClientSession, marks: RegistrationMarks, name: str, base_url: str
) -> TrackerRegistrar:
    carriers = {name: CarrierCredentials(api_key=SecretStr("key"), base_url=base_url)}
    register = tracker_registration(session, name, carriers, source_of_carrier)
    assert register is not None
    return TrackerRegistrar(marks, register)


async def test_aftership_registers_once_and_takes_4003_as_done(
    server: CarrierServer, marks: RegistrationMarks
) -> None:
    exists = {"meta": {"code": 4003, "message": "Tracking already exists."}, "data": {}}
    server.answer("POST", "/trackings", {"data": {"id": "as-1"}}, status=201)
    server.answer("POST", "/trackings", exists, status=400)
    async with aiohttp.ClientSession() as session:
        registrar = _registrar(session, marks, "aftership", server.base_url)
        assert await registrar.register(GLS)
        assert not await registrar.register(GLS)  # the marker: no second call
        assert await registrar.register(UPS)
    first, second = server.calls_to("/trackings")
    assert first.json() == {"tracking_number": "GLS123", "order_id": "O1"}
    assert second.json() == {"tracking_number": "1Z1", "slug": "ups", "order_id": "O2"}
    assert await marks.tracker_id("GLS123") == "as-1"


async def test_easypost_returns_the_existing_tracker(
    server: CarrierServer, marks: RegistrationMarks
) -> None:
    tracker = {"id": "trk_1", "object": "Tracker", "tracking_code": "1Z1", "status": "unknown"}
    server.answer("POST", "/trackers", tracker)
    async with aiohttp.ClientSession() as session:
        registrar = _registrar(session, marks, "easypost", server.base_url)
        assert await registrar.register(UPS)
    (call,) = server.calls_to("/trackers")
    assert call.json() == {"tracker": {"tracking_code": "1Z1", "carrier": "UPS"}}
    assert await marks.tracker_id("1Z1") == "trk_1"


async def test_a_failed_registration_is_tried_again(
    server: CarrierServer, marks: RegistrationMarks
) -> None:
    server.answer("POST", "/trackings", {"meta": {"code": 500}}, status=500)
    server.answer("POST", "/trackings", {"data": {"id": "as-2"}}, status=201)
    async with aiohttp.ClientSession() as session:
        registrar = _registrar(session, marks, "aftership", server.base_url)
        assert not await registrar.register(GLS)
        assert await registrar.register(GLS)
    assert await marks.tracker_id("GLS123") == "as-2"
