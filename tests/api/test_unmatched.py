"""The unmatched-scan routes: listing and searching parked numbers, linking one to an order by
hand (an audited, idempotent, rate-limited ``shipment.linked`` on the events and tracking
topics), and the link agent releasing the parked scans once it reads that event."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from projections.redis_store import RedisTimelineStore
from streams.agents.link import link_batch
from streams.linking import Tracked
from streams.metrics import StreamMetrics
from tests.api.conftest import Client, agent_token, example_order, read_topic
from tests.streams.link_stream import Sink, scan
from wismo.events import parse_event
from wismo.settings import SelfServiceSettings, Settings
from wismo.topics import EVENTS, TRACKING

ORDER = "ORD-1001"
NUMBER = "1ZLOST0000001"


def auth(*roles: str, sub: str = "agent-7") -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(*roles, sub=sub)}"}


async def listing(client: Client, query: str = "", roles: tuple[str, ...] = ("viewer",)) -> Any:
    response = await client.get(f"/v1/agent/unmatched{query}", headers=auth(*roles))
    assert response.status == 200, await response.text()
    return await response.json()


async def park(store: RedisTimelineStore, *numbers: str, scans: int = 2) -> None:
    await store.links.park(
        [scan(n, f"ups:{n}:{i}", i).event for n in numbers for i in range(scans)]
    )


async def test_parked_numbers_are_listed_searched_and_paged(
    client: Client, store: RedisTimelineStore
) -> None:
    await park(store, NUMBER, "1ZOTHER00001", "1ZOTHER00002")
    body = await listing(client)
    assert body["total"] == 3
    assert body["next_cursor"] is None
    assert sorted(r["tracking_number"] for r in body["numbers"]) == [
        NUMBER,
        "1ZOTHER00001",
        "1ZOTHER00002",
    ]
    row = next(r for r in body["numbers"] if r["tracking_number"] == NUMBER)
    assert (row["scans"], row["carrier"], row["latest_status"]) == (2, "ups", "in_transit")
    searched = await listing(client, "?q=1zlost")
    assert [r["tracking_number"] for r in searched["numbers"]] == [NUMBER]
    assert len((await listing(client, "?q=UPS"))["numbers"]) == 3

    seen: list[str] = []
    cursor = ""
    while True:
        page = await listing(client, f"?limit=1{cursor}")
        seen += [r["tracking_number"] for r in page["numbers"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert Counter(seen) == Counter([NUMBER, "1ZOTHER00001", "1ZOTHER00002"])


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=201", "?limit=x", "?cursor=nope", "?sort=new", f"?q={'x' * 65}"]
)
async def test_bad_listing_parameters_are_refused_with_a_reason(client: Client, query: str) -> None:
    response = await client.get(f"/v1/agent/unmatched{query}", headers=auth("agent"))
    assert response.status == 400
    assert (await response.json())["reason"]


async def test_linking_is_an_agent_action_on_a_known_order(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    path = f"/v1/agent/unmatched/{NUMBER}/link"
    assert (await client.post(path, json={"order_id": ORDER})).status == 401
    assert (await client.post(path, json={"order_id": ORDER}, headers=auth("viewer"))).status == 403
    unknown = await client.post(path, json={"order_id": "ORD-NONE"}, headers=auth("agent"))
    assert unknown.status == 404
    for bad in ({}, {"order_id": ""}, {"order_id": ORDER, "note": 5}, {"order_id": ORDER, "x": 1}):
        assert (await client.post(path, json=bad, headers=auth("agent"))).status == 400
    short = await client.post(
        "/v1/agent/unmatched/1Z/link", json={"order_id": ORDER}, headers=auth("agent")
    )
    assert short.status == 400


async def test_a_link_is_one_event_on_both_topics_however_often_it_is_sent(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await store.apply(example_order())
    await park(store, NUMBER)
    path = f"/v1/agent/unmatched/{NUMBER.lower()}/link"
    request = {"order_id": ORDER, "carrier": "ups", "note": "label reprinted"}
    first = await client.post(path, json=request, headers=auth("agent"))
    assert first.status == 202, await first.text()
    body = await first.json()
    assert (body["tracking_number"], body["parked_scans"], body["by"]) == (NUMBER, 2, "agent-7")
    again = await client.post(path, json=request, headers=auth("agent"))
    assert (await again.json())["event_id"] == body["event_id"]
    keyed = {**auth("agent"), "Idempotency-Key": "click-1"}
    one = await (await client.post(path, json=request, headers=keyed)).json()
    two = await (await client.post(path, json=request, headers=keyed)).json()
    assert one["event_id"] == two["event_id"] != body["event_id"]

    (event_record, *_) = await read_topic(settings, EVENTS)
    event = parse_event(event_record.value)
    assert event_record.key == ORDER.encode()
    assert (event.kind, event.source, event.event_id) == (
        "shipment.linked",
        "agent",
        body["event_id"],
    )
    assert event.payload.model_dump(exclude_none=True) == {
        "tracking_number": NUMBER,
        "carrier": "ups",
        "by": "agent-7",
        "note": "label reprinted",
    }
    tracking = await read_topic(settings, TRACKING)
    assert {r.key for r in tracking} == {NUMBER.encode()}

    # what the link agent does with the tracking topic's copy: the parked scans go to the order
    sink = Sink()
    await link_batch(
        store.links, [Tracked(NUMBER, parse_event(tracking[0].value))], sink, StreamMetrics()
    )
    assert sink.forwarded() == Counter(
        {(f"ups:{NUMBER}:0", ORDER): 1, (f"ups:{NUMBER}:1", ORDER): 1}
    )
    assert (await listing(client))["numbers"] == []


async def test_a_number_linked_to_another_order_is_refused(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    await store.links.record({"1ZELSEWHERE01": "ORD-9"}, {})
    response = await client.post(
        "/v1/agent/unmatched/1ZELSEWHERE01/link", json={"order_id": ORDER}, headers=auth("agent")
    )
    assert response.status == 409


async def test_links_are_rate_limited_per_agent(
    settings: Settings, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    limited = settings.model_copy(
        update={"selfservice": SelfServiceSettings(agent_actions_per_minute=2)}
    )
    async with TestClient(TestServer(create_app(limited))) as client:
        path = f"/v1/agent/unmatched/{NUMBER}/link"
        answers = [
            (
                await client.post(
                    path, json={"order_id": ORDER, "note": f"try {i}"}, headers=auth("agent")
                )
            ).status
            for i in range(3)
        ]
        assert answers == [202, 202, 429]
        other = await client.post(
            path, json={"order_id": ORDER}, headers=auth("agent", sub="agent-8")
        )
        assert other.status == 202
