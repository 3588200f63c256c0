"""The EasyPost trackers client against a real local HTTP server answering like EasyPost."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from carriers.easypost.client import EasyPostClient
from carriers.errors import TrackingApiError
from carriers.registry import get
from tests.carriers.carrier_server import carrier_server

HERE = Path(__file__).parent
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)


def _recorded_tracker() -> dict[str, object]:
    event = orjson.loads((HERE / "delivered.json").read_bytes())
    tracker: dict[str, object] = event["result"]
    return tracker


async def test_polled_tracker_gives_the_same_events_as_the_webhook() -> None:
    tracker = _recorded_tracker()
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", f"/v2/trackers/{tracker['id']}", tracker)
        client = EasyPostClient(session, "EZAK_test_key", base_url=server.base_url + "/v2")
        polled = await client.tracker(str(tracker["id"]), received_at=RECEIVED_AT)

    pushed = get("easypost").parse((HERE / "delivered.json").read_bytes(), {}, RECEIVED_AT)
    assert polled.events == pushed.events
    assert len(polled.events) == 7
    (call,) = server.calls
    expected = "Basic " + base64.b64encode(b"EZAK_test_key:").decode()
    assert call.headers["authorization"] == expected


async def test_create_tracker_sends_the_code_and_returns_id_and_events() -> None:
    tracker = _recorded_tracker()
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("POST", "/v2/trackers", tracker, status=201)
        client = EasyPostClient(session, "k", base_url=server.base_url + "/v2")
        identifier, result = await client.create_tracker("9400111899223397623913", "USPS")
    assert identifier == tracker["id"]
    assert len(result.events) == 7
    (call,) = server.calls_to("/v2/trackers")
    sent = {"tracking_code": "9400111899223397623913", "carrier": "USPS"}
    assert call.json() == {"tracker": sent}


async def test_http_errors_raise_with_the_status() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        error = {"error": {"code": "TRACKER.NOT_FOUND", "message": "not found"}}
        server.answer("GET", "/v2/trackers/trk_missing", error, status=404)
        client = EasyPostClient(session, "k", base_url=server.base_url + "/v2")
        with pytest.raises(TrackingApiError) as raised:
            await client.tracker("trk_missing")
    assert raised.value.status == 404
    assert "TRACKER.NOT_FOUND" in str(raised.value)


async def test_an_answer_that_is_not_a_tracker_is_a_problem_not_a_crash() -> None:
    async with carrier_server() as server, aiohttp.ClientSession() as session:
        server.answer("GET", "/v2/trackers/trk_1", [1, 2, 3])
        client = EasyPostClient(session, "k", base_url=server.base_url + "/v2")
        result = await client.tracker("trk_1", received_at=RECEIVED_AT)
    assert result.events == ()
    assert result.fatal
