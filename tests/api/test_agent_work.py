"""Agents working exceptions over the API: assignment and who may do it, escalation, notes,
messages to the customer, bulk acknowledge/resolve, the team queue; roles, audit events on the
broker, idempotency and the per-agent rate limit."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, agent_token, eventually, example_order, read_topic
from wismo.events import Event, parse_event
from wismo.settings import SelfServiceSettings, Settings
from wismo.topics import EVENTS

ORDER = "ORD-1001"
EXC = "exc:late-sh2"
ASSIGN = f"/v1/agent/exceptions/{EXC}/assign"


def auth(*roles: str, sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(*roles, sub=sub)}"}


ALICE, BOB = auth("agent"), auth("agent", sub="bob")
SUE, VIEWER = auth("supervisor", sub="sue"), auth("viewer", sub="vic")


async def seeded(client: Client, store: RedisTimelineStore) -> None:
    """The example order with its exception open, in the queue."""
    await store.apply([e for e in example_order() if e.kind != "exception.resolved"])

    async def indexed() -> bool:
        return await row(client) is not None

    await eventually(indexed)


async def row(client: Client, query: str = "") -> dict[str, Any] | None:
    response = await client.get(f"/v1/agent/exceptions{query}", headers=VIEWER)
    assert response.status == 200, await response.text()
    rows = (await response.json())["exceptions"]
    return next((r for r in rows if r["exception_id"] == EXC), None)


async def produced(settings: Settings) -> list[Event]:
    return [parse_event(record.value) for record in await read_topic(settings, EVENTS)]


async def test_take_give_back_and_supervisor_assignment(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await seeded(client, store)
    assert (await client.post(ASSIGN, json={"assignee": "me"}, headers=VIEWER)).status == 403
    taken = await client.post(ASSIGN, json={"assignee": "me"}, headers=ALICE)
    assert taken.status == 202, await taken.text()
    body = await taken.json()
    assert (body["status"], body["assignee"], body["by"], body["order_id"]) == (
        "accepted",
        "alice",
        "alice",
        ORDER,
    )
    (event,) = await produced(settings)
    assert (event.event_id, event.kind, event.source) == (
        body["event_id"],
        "exception.assigned",
        "agent",
    )
    assert event.payload.model_dump() == {"exception_id": EXC, "assignee": "alice", "by": "alice"}
    await store.apply([event])  # what the timeline worker does with it

    async def alices() -> bool:
        found = await row(client, "?assignee=alice")
        return found is not None and found["assigned_by"] == "alice"

    await eventually(alices)
    mine = await client.get("/v1/agent/exceptions?assignee=me", headers=ALICE)
    assert [r["exception_id"] for r in (await mine.json())["exceptions"]] == [EXC]
    assert await row(client, "?assignee=none") is None
    # the same click again changes nothing; bob may neither take it nor give it back
    again = await client.post(ASSIGN, json={"assignee": "me"}, headers=ALICE)
    assert (again.status, (await again.json())["status"]) == (200, "unchanged")
    for body_ in ({"assignee": "me"}, {"assignee": None}, {"assignee": "carol"}):
        refused = await client.post(ASSIGN, json=body_, headers=BOB)
        assert refused.status == 403, body_
        assert "supervisor" in (await refused.json())["reason"]
    # a supervisor gives it to bob
    moved = await client.post(ASSIGN, json={"assignee": "bob"}, headers=SUE)
    assert moved.status == 202
    assert [e.payload.model_dump()["assignee"] for e in await produced(settings)] == [
        "alice",
        "bob",
    ]


async def test_refusals_and_bad_bodies(client: Client, store: RedisTimelineStore) -> None:
    await seeded(client, store)
    unknown = await client.post(
        "/v1/agent/exceptions/exc:nope/assign", json={"assignee": "me"}, headers=ALICE
    )
    assert unknown.status == 404
    bodies: list[Any] = [
        {},
        {"assignee": 7},
        {"assignee": "  "},
        {"assignee": "me", "extra": 1},
        {"assignee": "x" * 129},
        {"assignee": "me", "order_id": ""},
    ]
    for body in bodies:
        response = await client.post(ASSIGN, json=body, headers=ALICE)
        assert response.status == 400, body
    escalate = f"/v1/agent/exceptions/{EXC}/escalate"
    for body in ({}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": "ok", "to": 5}):
        assert (await client.post(escalate, json=body, headers=ALICE)).status == 400, body
    key = await client.post(
        ASSIGN, json={"assignee": "me"}, headers=ALICE | {"Idempotency-Key": "a b"}
    )
    assert key.status == 400


async def test_escalation_notes_and_the_order_history(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await seeded(client, store)
    escalated = await client.post(
        f"/v1/agent/exceptions/{EXC}/escalate",
        json={"reason": "customer called three times", "to": "sue"},
        headers=ALICE,
    )
    assert escalated.status == 202, await escalated.text()
    notes = f"/v1/agent/orders/{ORDER}/notes"
    on_order = await client.post(notes, json={"text": "asked DHL for a callback"}, headers=BOB)
    on_exc = await client.post(
        notes, json={"text": "DHL retries", "exception_id": EXC}, headers=BOB
    )
    assert on_order.status == on_exc.status == 202
    assert (await on_exc.json())["note_id"].startswith("n_")
    assert (await client.post(notes, json={"text": "x"}, headers=VIEWER)).status == 403
    missing = await client.post(notes, json={"text": "x", "exception_id": "exc:nope"}, headers=BOB)
    assert missing.status == 404
    unknown_order = await client.post(
        "/v1/agent/orders/ORD-NONE/notes", json={"text": "x"}, headers=BOB
    )
    assert unknown_order.status == 404
    await store.apply(await produced(settings))

    async def escalated_in_queue() -> bool:
        found = await row(client, "?escalated=true")
        return found is not None and found["notes_count"] == 2

    await eventually(escalated_in_queue)
    detail = await (await client.get(f"/v1/agent/orders/{ORDER}", headers=ALICE)).json()
    history = [
        (n["action"], n["by"], n["text"], n["exception_id"]) for n in detail["timeline"]["notes"]
    ]
    assert sorted(history, key=str) == sorted(
        [
            ("escalate", "alice", "customer called three times", EXC),
            ("note", "bob", "asked DHL for a callback", None),
            ("note", "bob", "DHL retries", EXC),
        ],
        key=str,
    )
    again = await client.post(
        f"/v1/agent/exceptions/{EXC}/escalate", json={"reason": "other"}, headers=BOB
    )
    assert again.status == 409


async def test_a_message_to_the_customer_names_a_template(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await seeded(client, store)
    listed = await (await client.get("/v1/agent/message-templates", headers=VIEWER)).json()
    names = {t["name"] for t in listed["templates"]}
    assert "agent_update" in names
    messages = f"/v1/agent/orders/{ORDER}/messages"
    sent = await client.post(
        messages, json={"template": "agent_update", "text": "On its way again"}, headers=ALICE
    )
    assert sent.status == 202, await sent.text()
    (event,) = await produced(settings)
    assert event.kind == "customer.messaged"
    assert event.payload.model_dump()["message_id"] == (await sent.json())["message_id"]
    unknown = await client.post(messages, json={"template": "no_such"}, headers=ALICE)
    assert unknown.status == 404
    wordless = await client.post(messages, json={"template": "agent_need_info"}, headers=ALICE)
    assert wordless.status == 422


async def test_an_idempotency_key_makes_a_retry_one_event(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await seeded(client, store)
    notes = f"/v1/agent/orders/{ORDER}/notes"
    ids = set()
    for text in ("called", "called", "called (retry, edited)"):
        response = await client.post(
            notes, json={"text": text}, headers=ALICE | {"Idempotency-Key": "k1"}
        )
        ids.add((await response.json())["event_id"])
    assert len(ids) == 1
    fresh = await client.post(
        notes, json={"text": "called"}, headers=ALICE | {"Idempotency-Key": "k2"}
    )
    assert (await fresh.json())["event_id"] not in ids
    assert len({e.event_id for e in await produced(settings)}) == 2


async def test_bulk_acknowledge_and_resolve_per_exception(
    client: Client, store: RedisTimelineStore, settings: Settings
) -> None:
    await seeded(client, store)
    bulk = "/v1/agent/exceptions/bulk"
    assert (
        await client.post(bulk, json={"action": "resolve", "exception_ids": [EXC]}, headers=VIEWER)
    ).status == 403
    for body in (
        {"action": "close", "exception_ids": [EXC]},
        {"action": "resolve", "exception_ids": []},
    ):
        assert (await client.post(bulk, json=body, headers=ALICE)).status == 400
    answer = await client.post(
        bulk,
        json={"action": "resolve", "exception_ids": [EXC, "exc:nope", EXC], "note": "done"},
        headers=ALICE,
    )
    assert answer.status == 200
    result = await answer.json()
    assert (result["accepted"], result["refused"]) == (1, 1)
    assert [(r["exception_id"], r["status"], r.get("code")) for r in result["results"]] == [
        (EXC, "accepted", None),
        ("exc:nope", "refused", 404),
    ]
    (event,) = await produced(settings)
    assert (event.kind, event.payload.model_dump()["by"]) == ("exception.resolved", "alice")
    await store.apply([event])

    async def resolved() -> bool:
        found = await row(client, "?status=resolved")
        return found is not None

    await eventually(resolved)
    again = await (
        await client.post(bulk, json={"action": "resolve", "exception_ids": [EXC]}, headers=ALICE)
    ).json()
    assert [(r["status"], r["code"]) for r in again["results"]] == [("refused", 409)]


async def test_the_team_queue_is_for_supervisors(client: Client, store: RedisTimelineStore) -> None:
    await seeded(client, store)
    for headers in (ALICE, VIEWER):
        assert (await client.get("/v1/agent/team-queue", headers=headers)).status == 403
    queue = await (await client.get("/v1/agent/team-queue", headers=SUE)).json()
    assert (queue["total"], queue["unassigned"]) == (1, 1)
    assert queue["assignees"][0]["assignee"] is None
    assert queue["exceptions"][0]["exception_id"] == EXC
    assert queue["exceptions"][0]["age_s"] > 0
    by_assignee = await client.get("/v1/agent/team-queue?sort=assignee", headers=SUE)
    assert [r["exception_id"] for r in (await by_assignee.json())["exceptions"]] == [EXC]
    assert (await client.get("/v1/agent/team-queue?sort=name", headers=SUE)).status == 400


async def test_actions_are_rate_limited_per_agent(
    settings: Settings, store: RedisTimelineStore, redis: Any
) -> None:
    tight = settings.model_copy(
        update={"selfservice": SelfServiceSettings(agent_actions_per_minute=3)}
    )
    async with TestClient(TestServer(create_app(tight))) as client:
        await seeded(client, store)
        notes = f"/v1/agent/orders/{ORDER}/notes"
        statuses = [
            (await client.post(notes, json={"text": f"n{i}"}, headers=ALICE)).status
            for i in range(4)
        ]
        assert statuses == [202, 202, 202, 429]
        assert (await client.post(notes, json={"text": "mine"}, headers=BOB)).status == 202
        result = await (
            await client.post(
                "/v1/agent/exceptions/bulk",
                json={"action": "acknowledge", "exception_ids": [EXC, "exc:b", "exc:c"]},
                headers=BOB,
            )
        ).json()
        assert [(r["status"], r.get("code")) for r in result["results"]] == [
            ("accepted", None),
            ("refused", 404),
            ("refused", 429),
        ]
        # acknowledge and resolve draw on the same bucket: Bob has used his three
        resolve = f"/v1/agent/exceptions/{EXC}/resolve"
        refused = await client.post(resolve, json={"order_id": ORDER}, headers=BOB)
        assert refused.status == 429
        assert refused.headers["Retry-After"]
