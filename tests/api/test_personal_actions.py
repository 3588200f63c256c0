"""What people write in self-service actions is personal data: a customer's problem text and
photo, the reasons of return and cancel requests, agents' notes, escalation reasons and message
texts. Agents and supervisors read them; a viewer reads the order, the queue and the live agent
feed with each of them ``null``."""

from __future__ import annotations

from typing import Any

import orjson

from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, agent_token, example_order
from tests.api.test_live import frames, until
from wismo.events import Event, event_from_dict

WORDS = "QWERTYZ of 12 Long Lane"
ORDER = "ORD-1001"
REPORT = "cr_0123456789abcdef"


def _action(kind: str, minute: int, payload: dict[str, Any], source: str = "agent") -> Event:
    return event_from_dict(
        {
            "event_id": f"{source}:{kind}:{minute}",
            "source": source,
            "kind": kind,
            "order_id": ORDER,
            "occurred_at": f"2026-03-09T10:{minute:02d}:00Z",
            "payload": payload,
        }
    )


def _actions() -> list[Event]:
    photo = {
        "ref": "0123456789abcdef0123456789abcdef.jpg",
        "content_type": "image/jpeg",
        "size_bytes": 10,
        "sha256": "cd" * 32,
    }
    report = {"exception_id": REPORT, "problem": "damaged", "text": WORDS, "attachment": photo}
    line = {"line_id": "L1", "quantity": 1, "reason": WORDS}
    return [
        _action("problem.reported", 1, report, "customer"),
        _action("return.requested", 2, {"return_id": "rr_1", "lines": [line]}, "customer"),
        _action("cancel.requested", 3, {"request_id": "cq_1", "reason": WORDS}, "customer"),
        _action("note.added", 4, {"note_id": "n_1", "text": WORDS, "by": "agent-7"}),
        _action("exception.escalated", 5, {"exception_id": REPORT, "reason": WORDS, "by": "a-7"}),
        _action(
            "customer.messaged",
            6,
            {"message_id": "m_1", "template": "apology", "by": "agent-7", "text": WORDS},
        ),
    ]


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(role)}"}


def _says(document: Any) -> bool:
    return WORDS in orjson.dumps(document).decode()


async def test_viewers_read_orders_and_the_queue_without_what_people_wrote(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply([*example_order(), *_actions()])
    for role, sees in (("agent", True), ("supervisor", True), ("viewer", False)):
        detail = await (await client.get(f"/v1/agent/orders/{ORDER}", headers=_bearer(role))).json()
        assert _says(detail["timeline"]) is sees, role
        assert _says(detail["events"]) is sees, role
        (report,) = [e for e in detail["timeline"]["exceptions"] if e["exception_id"] == REPORT]
        assert (report["attachment"] is not None) is sees
        assert report["type"] == "customer_reported"  # what happened stays visible
        assert [n["action"] for n in detail["timeline"]["notes"]] == ["note", "escalate"]
        queue = await client.get(
            "/v1/agent/exceptions?status=open,acknowledged,resolved", headers=_bearer(role)
        )
        rows = (await queue.json())["exceptions"]
        assert REPORT in {row["exception_id"] for row in rows}
        assert _says(rows) is sees, role


async def test_the_live_agent_feed_masks_what_people_wrote_for_viewers(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(example_order())
    async with (
        client.ws_connect(f"/v1/ws/agent?token={agent_token('viewer')}") as viewer,
        client.ws_connect(f"/v1/ws/agent?token={agent_token('agent')}") as agent,
    ):
        await frames(viewer, 2)
        await frames(agent, 2)
        await store.apply(_actions())

        def about_report(frame: dict[str, Any]) -> bool:
            row = frame.get("exception") or {}
            return row.get("exception_id") == REPORT and row.get("escalation_reason") is not None

        seen_by_agent = await until(agent, about_report)
        assert _says(seen_by_agent)
        seen_by_viewer = await until(
            viewer,
            lambda f: (
                (f.get("exception") or {}).get("exception_id") == REPORT
                and (f["exception"].get("escalated_at") is not None)
            ),
        )
        assert not _says(seen_by_viewer)
        assert seen_by_viewer["exception"]["type"] == "customer_reported"
    async with client.ws_connect(f"/v1/ws/agent?token={agent_token('viewer')}") as later:
        _, queue = await frames(later, 2)
        assert REPORT in {row["exception_id"] for row in queue["exceptions"]}
        assert not _says(queue)
