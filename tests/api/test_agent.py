"""The agent API: roles, full timeline, search, the exception queue and its actions."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, agent_token, eventually, example_order, read_topic
from tests.projections.synthetic import order_history
from wismo.deadletter import DeadLetter
from wismo.events import event_from_dict, parse_event
from wismo.settings import Settings
from wismo.topics import DEADLETTER, EVENTS

ORDER = "ORD-1001"
EXCEPTION = "exc:late-sh2"


def auth(*roles: str, sub: str = "agent-7") -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(*roles, sub=sub)}"}


def open_exception_history() -> list:  # the example order while its exception is still open
    return [e for e in example_order() if e.kind != "exception.resolved"]


async def queue(client: Client, query: str = "") -> list[dict]:
    response = await client.get(f"/v1/agent/exceptions{query}", headers=auth("viewer"))
    assert response.status == 200, await response.text()
    rows: list[dict] = (await response.json())["exceptions"]
    return rows


async def test_agent_routes_need_a_valid_agent_token(client: Client) -> None:
    paths = [f"/v1/agent/orders/{ORDER}", "/v1/agent/search?q=1001", "/v1/agent/exceptions"]
    for path in paths:
        assert (await client.get(path)).status == 401
        assert (
            await client.get(path, headers=auth("agent") | {"Authorization": "Bearer x"})
        ).status == 401
        forged = agent_token("agent", secret="another-secret-of-sufficient-length!")
        response = await client.get(path, headers={"Authorization": f"Bearer {forged}"})
        assert response.status == 401
        response = await client.get(path, headers=auth("customer"))
        assert response.status == 403
        assert (await response.json())["error"] == "forbidden"


async def test_full_timeline_with_events_and_dedup_decisions(
    client: Client, store: RedisTimelineStore
) -> None:
    events = example_order()
    await store.apply(events)
    await store.apply(events[:3])  # a replay of the first three
    response = await client.get(f"/v1/agent/orders/{ORDER}", headers=auth("viewer"))
    assert response.status == 200
    body = await response.json()
    assert body["timeline"]["version"] == len(events)
    assert sorted(e["event_id"] for e in body["events"]) == sorted(e.event_id for e in events)
    assert body["duplicates"] == {e.event_id: 1 for e in events[:3]}
    assert (await client.get("/v1/agent/orders/ORD-NONE", headers=auth("viewer"))).status == 404


async def test_search_by_order_number_tracking_number_email_and_id(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply([*example_order(), *order_history(3, random.Random(1))])

    async def indexed() -> bool:
        response = await client.get("/v1/agent/search?q=1001", headers=auth("viewer"))
        return [r["order_id"] for r in (await response.json())["results"]] == [ORDER]

    await eventually(indexed)
    queries = {
        "q=%231001": "order_number",
        "order_number=1001": "order_number",
        "q=JD014600006281230704": "tracking_number",
        "q=Pat.Doe@example.com": "email",
        "email=pat.doe%40example.com": "email",
        f"q={ORDER}": "order_id",
    }
    for query, matched_by in queries.items():
        response = await client.get(f"/v1/agent/search?{query}", headers=auth("agent"))
        results = (await response.json())["results"]
        assert [(r["order_id"], r["matched_by"]) for r in results] == [(ORDER, matched_by)], query
    for query in ("q=Pat.Doe@example.com", "email=pat.doe%40example.com"):
        # an e-mail is personal data: viewers may not learn whose orders these are
        refused = await client.get(f"/v1/agent/search?{query}", headers=auth("viewer"))
        assert refused.status == 403, query
        assert "e-mail" in (await refused.json())["reason"]
    nothing = await client.get("/v1/agent/search?q=nobody", headers=auth("viewer"))
    assert (await nothing.json())["results"] == []
    # the document makes every criterion optional: none given matches nothing
    for empty in ("", "?q=&order_number=&email="):
        answer = await client.get(f"/v1/agent/search{empty}", headers=auth("viewer"))
        assert answer.status == 200, empty
        assert (await answer.json())["results"] == []


async def test_actions_refuse_null_and_empty_fields(client: Client) -> None:
    """A field given is text: ``null`` is refused with the reason, not taken as left out."""
    for action in ("acknowledge", "resolve"):
        path = f"/v1/agent/exceptions/{EXCEPTION}/{action}"
        for body in ({"order_id": None}, {"order_id": ""}, {"order_id": 7}, {"note": None}):
            response = await client.post(path, json=body, headers=auth("agent"))
            assert response.status == 400, (action, body)
            field = next(iter(body))
            assert field in (await response.json())["reason"], (action, body)


async def test_exception_queue_filters(client: Client, store: RedisTimelineStore) -> None:
    other = order_history(8, random.Random(2))
    opened = event_from_dict(
        {
            "event_id": "wismo:exc-pay-8",
            "source": "wismo",
            "kind": "exception.opened",
            "order_id": "ORD-8",
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {
                "exception_id": "exc:pay-8",
                "type": "payment_capture_failed",
                "severity": "high",
                "owner": "payment",
                "message": "Capture failed",
            },
        }
    )
    await store.apply([*open_exception_history(), *other, opened])

    async def both_indexed() -> bool:
        return len(await queue(client)) == 2

    await eventually(both_indexed)
    rows = await queue(client)
    assert [r["exception_id"] for r in rows] == ["exc:pay-8", EXCEPTION]  # high before medium
    assert rows[1]["carrier"] == "dhl"
    assert rows[1]["order_number"] == "1001"
    cases = {
        "?severity=high": ["exc:pay-8"],
        "?type=delivery_attempt_failed,customs_hold": [EXCEPTION],
        "?carrier=dhl": [EXCEPTION],
        "?status=resolved": [],
        "?min_age_hours=24": [EXCEPTION],  # opened in March 2026 vs one opened now
        "?max_age_hours=1": ["exc:pay-8"],
        "?limit=1": ["exc:pay-8"],
    }
    for query, expected in cases.items():
        assert [r["exception_id"] for r in await queue(client, query)] == expected, query
    for bad in ("?severity=urgent", "?status=closed", "?min_age_hours=soon", "?limit=-1"):
        response = await client.get(f"/v1/agent/exceptions{bad}", headers=auth("viewer"))
        assert response.status == 400, bad
        assert (await response.json())["reason"]


async def test_acknowledge_writes_an_audited_event_and_the_queue_follows(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await store.apply(open_exception_history())

    async def indexed() -> bool:
        return [r["exception_id"] for r in await queue(client)] == [EXCEPTION]

    await eventually(indexed)
    path = f"/v1/agent/exceptions/{EXCEPTION}/acknowledge"
    viewer = await client.post(path, json={"note": "calling"}, headers=auth("viewer"))
    assert viewer.status == 403
    response = await client.post(path, json={"note": "calling the customer"}, headers=auth("agent"))
    assert response.status == 202
    body = await response.json()
    (record,) = await read_topic(settings, EVENTS)
    assert record.key == ORDER.encode()
    event = parse_event(record.value)
    assert event.event_id == body["event_id"]
    assert event.kind == "exception.acknowledged"
    assert event.payload.model_dump(exclude_none=True) == {
        "exception_id": EXCEPTION,
        "by": "agent-7",
        "note": "calling the customer",
        "automatic": False,
    }
    await store.apply([event])  # what the timeline worker does with it

    async def acknowledged() -> bool:
        rows = await queue(client, "?status=acknowledged")
        return [(r["exception_id"], r["acknowledged_by"]) for r in rows] == [(EXCEPTION, "agent-7")]

    await eventually(acknowledged)


async def test_resolve_refusals(client: Client, store: RedisTimelineStore) -> None:
    await store.apply(example_order())  # its exception is already resolved
    agent = auth("supervisor", sub="lead-1")
    resolved = await client.post(
        f"/v1/agent/exceptions/{EXCEPTION}/resolve", json={"order_id": ORDER}, headers=agent
    )
    assert resolved.status == 409
    assert (await resolved.json())["error"] == "conflict"
    unknown = await client.post(
        "/v1/agent/exceptions/exc:nope/resolve", json={"order_id": ORDER}, headers=agent
    )
    assert unknown.status == 404
    no_order = await client.post("/v1/agent/exceptions/exc:nope/resolve", headers=agent)
    assert no_order.status == 404
    for body in (b"[1]", b"{", b'{"note": 5}'):
        response = await client.post(
            f"/v1/agent/exceptions/{EXCEPTION}/resolve",
            data=body,
            headers=agent | {"Content-Type": "application/json"},
        )
        assert response.status == 400, body


@pytest.mark.parametrize("mentions", ["JD014600006281230704", "ORD-1001"])
async def test_dead_letters_of_an_order(
    client: Client, store: RedisTimelineStore, settings: Settings, mentions: str
) -> None:
    from aiokafka import AIOKafkaProducer

    await store.apply(example_order())
    now = datetime.now(UTC)
    ours = DeadLetter("invalid", "dhl", orjson.dumps({"id": mentions, "bad": True}), {}, now)
    other = DeadLetter("invalid", "dhl", b'{"id": "JD999"}', {}, now)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for letter in (ours, other):
            await producer.send_and_wait(
                settings.topic(DEADLETTER), letter.to_json(), key=letter.id.encode()
            )
    finally:
        await producer.stop()
    path = f"/v1/agent/orders/{ORDER}/dead-letters"
    assert (await client.get(path, headers=auth("viewer"))).status == 403  # raw payloads
    response = await client.get(path, headers=auth("agent"))
    assert response.status == 200
    assert [d["id"] for d in (await response.json())["dead_letters"]] == [ours.id]


async def test_orders_committed_while_no_api_process_ran_are_searchable_and_queued(
    settings: Settings, store: RedisTimelineStore
) -> None:
    """The index is written with each commit: an API process started afterwards finds
    everything at once (no backfill, no waiting), and a later resolution leaves the queue
    whether or not an API process was running when it landed."""
    histories = [order_history(index, random.Random(index)) for index in range(50)]
    await store.apply([event for history in histories for event in history])
    await store.apply(open_exception_history())
    async with TestClient(TestServer(create_app(settings))) as late:
        response = await late.get("/v1/agent/search?q=100049", headers=auth("viewer"))
        assert [r["order_id"] for r in (await response.json())["results"]] == ["ORD-49"]
        response = await late.get(
            "/v1/agent/search?email=customer7@example.com", headers=auth("agent")
        )
        assert [r["order_id"] for r in (await response.json())["results"]] == ["ORD-7"]
        assert [r["exception_id"] for r in await queue(late)] == [EXCEPTION]
    resolution = [e for e in example_order() if e.kind == "exception.resolved"]
    await store.apply(resolution)  # no API process running
    async with TestClient(TestServer(create_app(settings))) as later:
        assert await queue(later) == []


async def test_a_blank_note_is_no_note(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await store.apply(open_exception_history())
    response = await client.post(
        f"/v1/agent/exceptions/{EXCEPTION}/acknowledge",
        json={"note": "\r\n ", "order_id": ORDER},
        headers=auth("agent"),
    )
    assert response.status == 202
    (record,) = await read_topic(settings, EVENTS)
    event = parse_event(record.value)
    assert event.kind == "exception.acknowledged"
    assert event.payload.note is None
