"""The AfterShip tracking client against a real local HTTP server answering like AfterShip."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from carriers.aftership.client import AfterShipClient
from carriers.errors import TrackingApiError
from carriers.registry import get
from tests.carriers.carrier_server import carrier_server
from wismo.events import EventKind

HERE = Path(__file__).parent
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
PREFIX = "/tracking/2025-07"


def _recorded_tracking() -> dict[str, object]:
    webhook = orjson.loads((HERE / "delivered.json").read_bytes())
    tracking: dict[str, object] = webhook["msg"]
    return tracking


async def test_polled_tracking_gives_the_same_checkpoints_as_the_webhook() -> None:
    tracking = _recorded_tracking()
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", f"{PREFIX}/trackings/lx9q2m4nbv7h3k1r0wyt", {"data": tracking})
        client = AfterShipClient(session, "as-key-1", base_url=server.base_url + PREFIX)
        polled = await client.tracking("lx9q2m4nbv7h3k1r0wyt", received_at=RECEIVED_AT)

    pushed = get("aftership").parse((HERE / "delivered.json").read_bytes(), {}, RECEIVED_AT)
    checkpoints = [e for e in polled.events if e.kind is EventKind.TRACKING_CHECKPOINT]
    assert checkpoints == [e for e in pushed.events if e.kind is EventKind.TRACKING_CHECKPOINT]
    assert len(checkpoints) == 6
    (edd,) = [e for e in polled.events if e.kind is EventKind.EDD_REVISED]
    assert edd.occurred_at == datetime(2024, 5, 1, 18, 5, 11, tzinfo=UTC)  # tracking.updated_at
    (call,) = server.calls
    assert call.headers["as-api-key"] == "as-key-1"
    assert call.headers["accept"] == "application/json"


async def test_older_api_versions_nest_the_tracking() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", "/v4/trackings/abc", {"data": {"tracking": _recorded_tracking()}})
        client = AfterShipClient(session, "k", base_url=server.base_url + "/v4")
        result = await client.tracking("abc", received_at=RECEIVED_AT)
    assert len(result.events) == 7
    assert result.problems == ()


async def test_create_tracking_sends_the_number_and_returns_the_id() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("POST", f"{PREFIX}/trackings", {"data": {"id": "new-id-1"}}, status=201)
        client = AfterShipClient(session, "k", base_url=server.base_url + PREFIX)
        identifier = await client.create_tracking("1Z999AA10123456784", "ups", "ORD-1")
    assert identifier == "new-id-1"
    (call,) = server.calls_to(f"{PREFIX}/trackings")
    sent = {"tracking_number": "1Z999AA10123456784", "slug": "ups", "order_id": "ORD-1"}
    assert call.json() == sent


async def test_http_errors_raise_with_the_status() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", f"{PREFIX}/trackings/gone", {"meta": {"code": 4004}}, status=404)
        client = AfterShipClient(session, "k", base_url=server.base_url + PREFIX)
        with pytest.raises(TrackingApiError) as raised:
            await client.tracking("gone")
    assert raised.value.status == 404
    assert "4004" in str(raised.value)


async def test_an_answer_that_is_not_json_raises() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", f"{PREFIX}/trackings/x", b"<html>maintenance</html>")
        client = AfterShipClient(session, "k", base_url=server.base_url + PREFIX)
        with pytest.raises(TrackingApiError, match="not JSON"):
            await client.tracking("x")


async def test_an_answer_without_a_tracking_is_a_problem_not_a_crash() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", f"{PREFIX}/trackings/x", {"data": ["unexpected"]})
        client = AfterShipClient(session, "k", base_url=server.base_url + PREFIX)
        result = await client.tracking("x", received_at=RECEIVED_AT)
    assert result.events == ()
    assert result.fatal


async def test_unreachable_api_raises() -> None:
    async with aiohttp.ClientSession() as session:
        client = AfterShipClient(session, "k", base_url="http://127.0.0.1:9")
        with pytest.raises(TrackingApiError):
            await client.tracking("x")
