"""Re-check with carrier: ``GET /v1/agent/parcels/{n}/poll`` and ``POST …/recheck`` on the real
poll index in the machine's Redis (a unique prefix per test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from projections.poll.index import NOTHING_NEW, PolledParcel, PollIndex
from tests.api.conftest import Client, agent_token
from wismo.settings import Settings

NUMBER = "1Z999AA10123456784"
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def auth(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(*roles)}"}


async def polled(redis: aioredis.Redis, prefix: str) -> PollIndex:
    index = PollIndex(redis, prefix)
    parcel = PolledParcel(NUMBER, "ups", order_id="ORD-1", status="in_transit")
    await index.schedule(parcel, NOW - timedelta(hours=1))
    lease = (await index.take(NOW - timedelta(minutes=50), 10, 60))[0]
    await index.complete(
        lease,
        polled_at=NOW - timedelta(minutes=50),
        result=NOTHING_NEW,
        next_at=NOW + timedelta(hours=3),
    )
    return index


async def test_the_poll_state_of_a_parcel(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    await polled(redis, prefix)
    response = await client.get(f"/v1/agent/parcels/{NUMBER}/poll", headers=auth("viewer"))
    assert response.status == 200
    body = await response.json()
    assert body == {
        "tracking_number": NUMBER,
        "source": "ups",
        "order_id": "ORD-1",
        "status": "in_transit",
        "last_polled_at": (NOW - timedelta(minutes=50)).isoformat(),
        "next_poll_at": (NOW + timedelta(hours=3)).isoformat(),
        "last_result": "nothing_new",
        "quiet_polls": 1,
        "requested_at": None,
    }


async def test_recheck_makes_the_parcel_due_now(
    settings: Settings, redis: aioredis.Redis, prefix: str
) -> None:
    index = await polled(redis, prefix)
    app = create_app(settings, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(f"/v1/agent/parcels/{NUMBER}/recheck", headers=auth("agent"))
        assert response.status == 202
        body = await response.json()
    assert body["status"] == "accepted"
    assert body["by"] == "agent-7"
    assert body["at"] == NOW.isoformat()
    assert body["poll"]["next_poll_at"] == NOW.isoformat()
    assert body["poll"]["requested_at"] == NOW.isoformat()
    # the poll role takes it in its next round
    taken = await index.take(NOW, 10, 60)
    assert [lease.parcel.tracking_number for lease in taken] == [NUMBER]


async def test_a_parcel_not_polled_is_404_with_the_reason(client: Client) -> None:
    response = await client.post("/v1/agent/parcels/1ZNOTPOLLED/recheck", headers=auth("agent"))
    assert response.status == 404
    assert "is not polled" in (await response.json())["reason"]
    response = await client.get("/v1/agent/parcels/1ZNOTPOLLED/poll", headers=auth("agent"))
    assert response.status == 404
    assert "is not polled" in (await response.json())["reason"]


async def test_who_may_look_and_who_may_ask(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    await polled(redis, prefix)
    recheck = f"/v1/agent/parcels/{NUMBER}/recheck"
    assert (await client.post(recheck)).status == 401
    forged = agent_token("agent", secret="another-secret-of-32-chars-at-least")
    bad = {"Authorization": f"Bearer {forged}"}
    assert (await client.post(recheck, headers=bad)).status == 401
    viewer = await client.post(recheck, headers=auth("viewer"))
    assert viewer.status == 403
    assert (await client.post(recheck, headers=auth("supervisor"))).status == 202
    assert (await client.get(f"/v1/agent/parcels/{NUMBER}/poll")).status == 401


async def test_a_tracking_number_too_long_is_refused(client: Client) -> None:
    response = await client.get(f"/v1/agent/parcels/{'9' * 101}/poll", headers=auth("agent"))
    assert response.status == 400
    assert "1 to 100 characters" in (await response.json())["reason"]


async def test_a_blank_tracking_number_is_refused_and_a_separator_is_a_character(
    client: Client,
) -> None:
    blank = await client.post("/v1/agent/parcels/%20%09/recheck", headers=auth("agent"))
    assert blank.status == 400
    # the document's pattern (`\S`, ECMAScript) counts U+001C as a character: not polled, not bad
    separator = await client.post("/v1/agent/parcels/%1C/recheck", headers=auth("agent"))
    assert separator.status == 404
