"""The smaller findings of the security review, each against the real API: what every answer's
headers say, out-of-range dates, links that could run script, malformed requests, and what an
unknown webhook source learns."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from projections.redis_store import RedisTimelineStore
from tests.api.conftest import API_KEY, Client, agent_token, read_topic
from tests.security.test_access import _orders, _token
from wismo.settings import Settings
from wismo.topics import EVENTS

AGENT = {"Authorization": f"Bearer {agent_token('viewer')}"}


async def test_every_answer_says_nosniff_and_names_no_framework(client: Client) -> None:
    paths = ["/healthz", "/openapi.json", "/track", "/static/common.js", "/v1/orders/ORD-0"]
    paths += ["/no/such/route", "/static/none.js"]
    for path in paths:
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Server"] == "wismo", path
        assert "aiohttp" not in str(response.headers).lower(), path


async def test_look_up_and_agent_answers_are_never_stored(
    client: Client, store: RedisTimelineStore
) -> None:
    await _orders(store)
    found = await client.post(
        "/v1/lookup", json={"order_number": "100001", "email": "customer1@example.com"}
    )
    assert found.status == 200
    assert "token" in await found.json()
    missing = await client.post(
        "/v1/lookup", json={"order_number": "100001", "email": "nobody@example.com"}
    )
    answers = [found, missing]
    for path in (
        "/v1/agent/orders/ORD-1",
        "/v1/agent/search?q=100001",
        "/v1/agent/exceptions",
        "/v1/analytics/sla?from=2026-01-01&to=2026-01-02",
    ):
        answers.append(await client.get(path, headers=AGENT))
    answers.append(await client.get("/v1/agent/orders/ORD-1"))  # refused: 401
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store", response.url


@pytest.mark.parametrize(
    ("start", "end"),
    [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-02"), ("2026-01-01", "9999-12-31")],
)
async def test_sla_dates_out_of_range_are_a_400(client: Client, start: str, end: str) -> None:
    response = await client.get(f"/v1/analytics/sla?from={start}&to={end}", headers=AGENT)
    assert response.status == 400
    assert (await response.json())["error"] == "bad_request"


@pytest.mark.parametrize(
    "url", ["javascript:alert(document.domain)", "JAVASCRIPT:alert(1)", "data:text/html,x", "//x"]
)
async def test_a_tracking_url_that_is_not_http_is_refused(
    client: Client, settings: Settings, url: str
) -> None:
    shipped = {
        "event_id": "evt-url-1",
        "kind": "fulfilment.shipped",
        "occurred_at": "2026-03-02T10:00:00Z",
        "source": "api",
        "order_id": "ORD-URL",
        "payload": {"shipment_id": "S1", "tracking_number": "1ZURL0001", "tracking_url": url},
    }
    headers = {"Content-Type": "application/json", "X-API-Key": API_KEY}
    response = await client.post("/v1/events", data=orjson.dumps(shipped), headers=headers)
    assert response.status == 400, await response.text()
    assert "tracking_url" in await response.text()
    assert await read_topic(settings, EVENTS) == []
    shipped["payload"]["tracking_url"] = "https://carrier.example/track?n=1ZURL0001"  # type: ignore[index]
    accepted = await client.post("/v1/events", data=orjson.dumps(shipped), headers=headers)
    assert accepted.status == 202, await accepted.text()


async def test_a_malformed_request_is_refused_quietly(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Probe: secret\x01value\r\n\r\n")
    await writer.drain()
    with caplog.at_level(logging.DEBUG):
        answer = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400"))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert not [r for r in caplog.records if r.exc_info or b"secret" in r.getMessage().encode()]
    assert any("malformed HTTP request" in r.getMessage() for r in caplog.records)


async def test_a_token_from_a_look_up_still_reads_its_order(
    client: Client, store: RedisTimelineStore
) -> None:
    # the guards change headers, not access: the customer flow still works end to end
    await _orders(store)
    token = await _token(client, 2)
    response = await client.get("/v1/orders/ORD-2", params={"token": token})
    assert response.status == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
