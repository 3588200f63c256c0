"""Brand scoping: an agent whose token names ``brands`` never reads, finds or acts on another
brand's order — every way tried answers exactly as for a missing order (404 / absent)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from api.auth import CUSTOMER_AUDIENCE, CapabilityTokens, _customer_key, issue_customer_token
from api.errors import Forbidden
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import AGENT_SECRET, Client, eventually, example_order, make_settings
from wismo.events import Event, event_from_dict, event_to_dict
from wismo.settings import BrandSettings, Settings
from wismo.topics import ensure_topics

ORDER = "ORD-1001"
EXCEPTION = "exc:late-sh2"
NUMBER = "JD014600006281230704"


def auth(*roles: str, brands: list[str] | None = None) -> dict[str, str]:
    claims: dict[str, Any] = {"sub": "agent-b", "roles": list(roles), "exp": int(time.time()) + 60}
    if brands is not None:
        claims["brands"] = brands
    return {"Authorization": f"Bearer {jwt.encode(claims, AGENT_SECRET, algorithm='HS256')}"}


def branded(events: list[Event], brand: str) -> list[Event]:
    """The events with ``brand`` stated on the order's placed/changed payloads."""
    out = []
    for event in events:
        data = event_to_dict(event)
        if data["kind"] in ("order.placed", "order.changed"):
            data["payload"]["brand"] = brand
        out.append(event_from_dict(data))
    return out


@pytest.fixture
async def settings(broker: str, prefix: str) -> Settings:
    """The API settings with two brands configured."""
    brands = {
        "northwind": BrandSettings(name="Northwind"),
        "kaffeeberg": BrandSettings(name="Berg"),
    }
    settings = make_settings(broker, prefix).model_copy(update={"brands": brands})
    await ensure_topics(settings)
    return settings


@pytest.fixture
async def northwind(client: Client, store: RedisTimelineStore) -> None:
    """The example order, of brand northwind, its exception still open, searchable."""
    await store.apply(
        branded([e for e in example_order() if e.kind != "exception.resolved"], "northwind")
    )

    async def indexed() -> bool:
        answer = await client.get("/v1/agent/search?q=1001", headers=auth("viewer"))
        return len((await answer.json())["results"]) == 1

    await eventually(indexed)


OTHERS = [["kaffeeberg"], []]


@pytest.mark.parametrize("brands", OTHERS)
async def test_reading_another_brands_order_is_not_found(
    client: Client, northwind: None, brands: list[str]
) -> None:
    missing = await client.get("/v1/agent/orders/ORD-NONE", headers=auth("agent"))
    answer = await client.get(f"/v1/agent/orders/{ORDER}", headers=auth("agent", brands=brands))
    assert answer.status == missing.status == 404
    assert (await answer.json())["reason"] == f"order {ORDER} is not known"
    dead = await client.get(
        f"/v1/agent/orders/{ORDER}/dead-letters", headers=auth("agent", brands=brands)
    )
    assert dead.status == 404


@pytest.mark.parametrize("brands", OTHERS)
async def test_searching_never_finds_another_brands_order(
    client: Client, northwind: None, brands: list[str]
) -> None:
    for query in ("q=1001", f"q={ORDER}", f"q={NUMBER}", "q=pat.doe@example.com"):
        answer = await client.get(f"/v1/agent/search?{query}", headers=auth("agent", brands=brands))
        assert answer.status == 200
        assert (await answer.json())["results"] == [], query


@pytest.mark.parametrize("brands", OTHERS)
async def test_acting_on_another_brands_order_is_not_found(
    client: Client, northwind: None, brands: list[str]
) -> None:
    who = auth("supervisor", brands=brands)
    tries = {
        f"/v1/agent/exceptions/{EXCEPTION}/acknowledge": {"order_id": ORDER},
        f"/v1/agent/exceptions/{EXCEPTION}/resolve": {"order_id": ORDER},
        f"/v1/agent/exceptions/{EXCEPTION}/assign": {"assignee": "me", "order_id": ORDER},
        f"/v1/agent/exceptions/{EXCEPTION}/escalate": {"reason": "late", "order_id": ORDER},
        f"/v1/agent/orders/{ORDER}/notes": {"text": "hello"},
        "/v1/agent/unmatched/ZZ12345678/link": {"order_id": ORDER},
    }
    for path, body in tries.items():
        answer = await client.post(path, json=body, headers=who)
        assert answer.status == 404, (path, await answer.text())
    bulk = await client.post(
        "/v1/agent/exceptions/bulk",
        json={"action": "acknowledge", "exception_ids": [EXCEPTION]},
        headers=who,
    )
    assert bulk.status == 200, await bulk.text()
    (result,) = (await bulk.json())["results"]
    assert (result["status"], result["code"]) == ("refused", 404), result
    recheck = await client.post(f"/v1/agent/parcels/{NUMBER}/recheck", headers=who)
    assert recheck.status == 404


async def test_the_brands_own_and_unrestricted_agents_see_and_act(
    client: Client, northwind: None
) -> None:
    for brands in (["northwind"], ["kaffeeberg", "northwind"], None):
        who = auth("agent", brands=brands)
        assert (await client.get(f"/v1/agent/orders/{ORDER}", headers=who)).status == 200
        found = await client.get("/v1/agent/search?q=1001", headers=who)
        assert [r["order_id"] for r in (await found.json())["results"]] == [ORDER]
    acted = await client.post(
        f"/v1/agent/orders/{ORDER}/notes",
        json={"text": "called"},
        headers=auth("agent", brands=["northwind"]),
    )
    assert acted.status == 202, await acted.text()


async def test_a_brand_restricted_admin_erases_only_by_their_brands_order(
    client: Client, northwind: None
) -> None:
    other = auth("admin", brands=["kaffeeberg"])
    by_order = await client.post("/v1/agent/erasures", json={"order_id": ORDER}, headers=other)
    assert by_order.status == 404
    by_mail = await client.post(
        "/v1/agent/erasures", json={"email": "pat.doe@example.com"}, headers=other
    )
    assert by_mail.status == 403


def test_a_capability_token_carries_the_brand_and_grants_only_its_order() -> None:
    secret, now = SecretStr("s" * 32), datetime.now(UTC)
    token = issue_customer_token(secret, "ORD-A", now, 60, brand="northwind")
    claims = jwt.decode(token, _customer_key(secret), ["HS256"], audience=CUSTOMER_AUDIENCE)
    assert claims["brand"] == "northwind"
    assert "brand" not in jwt.decode(
        issue_customer_token(secret, "ORD-A", now, 60),
        _customer_key(secret),
        ["HS256"],
        audience=CUSTOMER_AUDIENCE,
    )
    tokens = CapabilityTokens(secret, 8)
    tokens.authorize(token, "ORD-A", now)
    with pytest.raises(Forbidden):
        tokens.authorize(token, "ORD-B", now)  # brand B's order: not this token's


async def queue(client: Client, brands: list[str] | None, query: str = "") -> list[str]:
    answer = await client.get(f"/v1/agent/exceptions{query}", headers=auth("agent", brands=brands))
    assert answer.status == 200, await answer.text()
    return [row["exception_id"] for row in (await answer.json())["exceptions"]]


async def test_queues_list_only_the_agents_brands(client: Client, northwind: None) -> None:
    assert await queue(client, ["kaffeeberg"]) == []
    assert await queue(client, []) == []
    assert await queue(client, ["northwind"]) == [EXCEPTION]
    assert await queue(client, None) == [EXCEPTION]
    # the brand filter: any brand for an unrestricted agent, only within the agent's brands
    assert await queue(client, None, "?brand=northwind") == [EXCEPTION]
    assert await queue(client, None, "?brand=kaffeeberg") == []
    assert await queue(client, ["kaffeeberg"], "?brand=northwind") == []
    rows = await client.get("/v1/agent/exceptions", headers=auth("agent"))
    assert (await rows.json())["exceptions"][0]["brand"] == "northwind"
    for brands, seen in ((["kaffeeberg"], 0), (["northwind"], 1), (None, 1)):
        team = await client.get("/v1/agent/team-queue", headers=auth("supervisor", brands=brands))
        assert team.status == 200
        assert len((await team.json())["exceptions"]) == seen, brands


def bearer_of(brands: list[str] | None) -> str:
    return auth("agent", brands=brands)["Authorization"].removeprefix("Bearer ")


async def test_the_live_feed_shows_only_the_agents_brands(
    client: Client, northwind: None, store: RedisTimelineStore
) -> None:
    url = "/v1/ws/agent?orders=true&token="
    async with (
        client.ws_connect(url + bearer_of(["northwind"])) as own,
        client.ws_connect(url + bearer_of(["kaffeeberg"])) as other,
    ):
        _, own_queue = [await own.receive_json(timeout=10) for _ in range(2)]
        _, other_queue = [await other.receive_json(timeout=10) for _ in range(2)]
        assert [r["exception_id"] for r in own_queue["exceptions"]] == [EXCEPTION]
        assert other_queue["exceptions"] == []
        await store.apply(branded(example_order(), "northwind"))  # the exception resolved
        frame = await own.receive_json(timeout=10)
        while frame["type"] != "exception":
            frame = await own.receive_json(timeout=10)
        assert frame["exception"]["state"] == "resolved"
        with pytest.raises(TimeoutError):
            await other.receive(timeout=1.0)  # nothing of northwind's reached kaffeeberg


async def test_the_brands_an_agent_may_filter_by(client: Client) -> None:
    for brands, ids, restricted in (
        (None, ["kaffeeberg", "northwind"], False),
        (["northwind", "elsewhere"], ["northwind"], True),
        ([], [], True),
    ):
        answer = await client.get("/v1/agent/brands", headers=auth("viewer", brands=brands))
        body = await answer.json()
        assert [b["id"] for b in body["brands"]] == ids
        assert body["restricted"] is restricted
    assert (await client.get("/v1/agent/brands")).status == 401


async def test_webhook_subscriptions_need_an_unrestricted_agent(client: Client) -> None:
    restricted = await client.get(
        "/v1/notify/subscriptions", headers=auth("supervisor", brands=["northwind"])
    )
    assert restricted.status == 403
    assert (await client.get("/v1/notify/subscriptions", headers=auth("supervisor"))).status == 200


async def test_another_brands_parcel_is_not_polled_for_the_agent(
    client: Client, northwind: None, redis: Any, prefix: str
) -> None:
    from projections.poll.index import PolledParcel, PollIndex

    now = datetime.now(UTC)
    parcel = PolledParcel(NUMBER, "ups", order_id=ORDER, status="in_transit")
    await PollIndex(redis, prefix).schedule(parcel, now)
    path = f"/v1/agent/parcels/{NUMBER}"
    own, other = auth("agent", brands=["northwind"]), auth("agent", brands=["kaffeeberg"])
    assert (await client.get(f"{path}/poll", headers=own)).status == 200
    assert (await client.get(f"{path}/poll", headers=other)).status == 404
    assert (await client.post(f"{path}/recheck", headers=other)).status == 404
    assert (await client.post(f"{path}/recheck", headers=own)).status == 202
