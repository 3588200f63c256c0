"""The simulated OMS of ``wismo up``: what it reads from a ``cancel.requested`` webhook, what it
answers (confirmed, or rejected when a line is already in fulfilment), that its answer is a valid
``oms`` delivery, and that its endpoint answers each signed request once, later."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from bench.oms import PATH, CancelAsked, SimulatedOms, answer_for, cancel_asked
from bench.webhooks import Post
from carriers.registry import get
from carriers.standard_webhooks import sign
from projections.timeline import fold
from projections.timeline_model import Timeline
from wismo.events import event_from_dict

ORDER = "ORD-7"
SECRET = "whsec_" + base64.b64encode(b"simulated-oms-test-key-0123").decode()
NOW = datetime(2026, 3, 5, 10, tzinfo=UTC)


def webhook(request_id: str = "cq_0123456789abcdef", lines: Any = None) -> bytes:
    """A ``cancel.requested`` delivery as wismo's integrator webhooks shape it."""
    cancel = {"request_id": request_id, "status": "requested", "lines": lines or {"L3": 1}}
    data = {"order_id": ORDER, "order_number": "7", "order_version": 4, "cancel": cancel}
    return orjson.dumps({"type": "cancel.requested", "timestamp": NOW.isoformat(), "data": data})


def timeline_shipping(*line_ids: str) -> Timeline:
    events = [
        event_from_dict(
            {
                "event_id": "oms:placed",
                "source": "oms",
                "kind": "order.placed",
                "order_id": ORDER,
                "occurred_at": "2026-03-01T10:00:00Z",
                "payload": {"lines": [{"line_id": f"L{n}", "quantity": 1} for n in (1, 2, 3, 4)]},
            }
        )
    ]
    if line_ids:
        events.append(
            event_from_dict(
                {
                    "event_id": "wms:shipped",
                    "source": "wms",
                    "kind": "fulfilment.shipped",
                    "order_id": ORDER,
                    "occurred_at": "2026-03-02T10:00:00Z",
                    "payload": {
                        "tracking_number": "1Z999AA10000000001",
                        "lines": [{"line_id": line, "quantity": 1} for line in line_ids],
                    },
                }
            )
        )
    return fold(events, ORDER)


def test_the_webhook_names_the_order_the_request_and_its_lines() -> None:
    assert cancel_asked(webhook()) == CancelAsked(ORDER, "cq_0123456789abcdef", {"L3": 1})
    listed = webhook(lines=[{"line_id": "L4", "quantity": 2}])
    assert cancel_asked(listed) == CancelAsked(ORDER, "cq_0123456789abcdef", {"L4": 2})
    other = orjson.dumps({"type": "return.requested", "data": {"order_id": ORDER}})
    assert cancel_asked(other) is None
    assert cancel_asked(b"not json") is None


line_sets = st.sets(st.sampled_from(["L1", "L2", "L3", "L4"]))


@given(line_sets.filter(bool), line_sets)
def test_the_answer_is_a_valid_oms_delivery_rejecting_lines_in_fulfilment(
    asked: set[str], shipped: set[str]
) -> None:
    answer = answer_for(
        CancelAsked(ORDER, "cq_1", dict.fromkeys(asked, 1)), timeline_shipping(*shipped), NOW
    )
    result = get("oms").parse(orjson.dumps(answer), {}, NOW)
    assert result.problems == ()
    (event,) = result.events
    payload = event.payload.model_dump(mode="json")
    assert payload["request_id"] == "cq_1"
    expected = "cancel.rejected" if asked & shipped else "cancel.confirmed"
    assert event.kind == expected
    assert all(line in payload["note"] for line in asked & shipped)


async def test_the_endpoint_answers_a_signed_request_once_after_the_delay() -> None:
    posts: list[Post] = []

    async def timelines(order_id: str) -> Timeline | None:
        return timeline_shipping("L1") if order_id == ORDER else None

    async def deliver(post: Post) -> int:
        posts.append(post)
        return 202

    oms = SimulatedOms(timelines, deliver, delay_s=0.05, secrets=(SECRET,))
    async with TestClient(TestServer(oms.app())) as client:
        body = webhook()
        assert (await client.post(PATH, data=body)).status == 401  # unsigned
        stamp = int(time.time())
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(SECRET, "msg_1", stamp, body),
        }
        for _ in range(2):  # a redelivery is answered once
            assert (await client.post(PATH, data=body, headers=headers)).status == 204
        await asyncio.sleep(0.3)
    (post,) = posts
    assert post.source == "oms"
    answer = orjson.loads(post.body)
    assert (answer["kind"], answer["order_id"]) == ("cancel.confirmed", ORDER)
    assert oms.answered == {"cq_0123456789abcdef": "cancel.confirmed"}
