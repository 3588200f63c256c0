"""An order's notifications for agents (masked for viewers), the manual re-send through the
ledger, and the development outbox (dev only) — real Redis, the ledger the notify role writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import Message, MessageState, NotifyChannel
from projections.notify.outbox import Outbox
from tests.api.conftest import Client, agent_token
from wismo.settings import NotifySettings, Settings

ORDER = "ord-msgs-1"
NOW = datetime.now(UTC).replace(microsecond=0)


def auth(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(*roles)}"}


def message(channel: NotifyChannel, recipient: str, kind: str) -> Message:
    return Message(
        key=f"{ORDER}|{kind}|{channel.value}|{recipient}",
        order_id=ORDER,
        channel=channel,
        recipient=recipient,
        kind=kind,
        subject=ORDER,
        payload={"order_number": "1001"},
        triggered_at=NOW - timedelta(minutes=5),
        due_at=NOW,
        version=3,
    )


EMAIL = message(NotifyChannel.EMAIL, "ada@example.com", "shipped")
HOOK = message(NotifyChannel.WEBHOOK, "sub_abc", "order.status_changed")
QUIET = message(NotifyChannel.SMS, "+15551234567", "delivered")
WAITING = message(NotifyChannel.EMAIL, "ada@example.com", "delivered")


async def seed(redis: aioredis.Redis, prefix: str) -> Ledger:
    ledger = Ledger(redis, prefix)
    plan = SimplePlan(messages=[EMAIL, HOOK, WAITING], suppressed=[(QUIET, "opted_out")])
    await ledger.commit_plan(ORDER, plan, NOW)
    await ledger.mark_sending(EMAIL.message_id, 1, NOW)
    await ledger.mark_sent(EMAIL.message_id, NOW, provider_id="smtp-1")
    await ledger.mark_sending(HOOK.message_id, 1, NOW)
    await ledger.mark_failed(
        HOOK.message_id, "HTTP 500 past the retry horizon", NOW, status_code=500
    )
    return ledger


async def test_an_orders_notifications_masked_for_viewers(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    await seed(redis, prefix)
    url = f"/v1/agent/orders/{ORDER}/notifications"
    seen = await client.get(url, headers=auth("agent"))
    assert seen.status == 200, await seen.text()
    rows = {r["message_id"]: r for r in (await seen.json())["notifications"]}
    assert set(rows) == {m.message_id for m in (EMAIL, HOOK, QUIET, WAITING)}
    assert rows[EMAIL.message_id]["recipient"] == "ada@example.com"
    assert rows[EMAIL.message_id]["state"] == "sent"
    assert rows[HOOK.message_id]["state"] == "failed"
    assert rows[HOOK.message_id]["reason"] == "HTTP 500 past the retry horizon"
    assert rows[HOOK.message_id]["resendable"] is True
    assert rows[QUIET.message_id]["state"] == "suppressed"
    assert rows[QUIET.message_id]["reason"] == "opted_out"
    assert rows[WAITING.message_id]["resendable"] is False
    viewer = await (await client.get(url, headers=auth("viewer"))).json()
    masked = {r["message_id"]: r["recipient"] for r in viewer["notifications"]}
    assert masked[EMAIL.message_id] == "a***@example.com"
    assert masked[QUIET.message_id] == "+*******4567"
    assert masked[HOOK.message_id] == "sub_abc"
    assert "ada@example.com" not in str(viewer)
    limited = await (await client.get(f"{url}?limit=1", headers=auth("agent"))).json()
    assert len(limited["notifications"]) == 1
    assert (await client.get(f"{url}?limit=0", headers=auth("agent"))).status == 400
    assert (await client.get(url)).status == 401
    assert (await client.get(url, headers=auth("customer"))).status == 403
    nothing = await (
        await client.get("/v1/agent/orders/none/notifications", headers=auth("agent"))
    ).json()
    assert nothing == {"order_id": "none", "notifications": []}


async def test_resend_requeues_sent_and_failed_messages(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    ledger = await seed(redis, prefix)
    url = f"/v1/notify/messages/{HOOK.message_id}/resend"
    assert (await client.post(url, headers=auth("viewer"))).status == 403
    assert (await client.post(url)).status == 401
    answer = await client.post(url, headers=auth("agent"))
    assert answer.status == 202, await answer.text()
    body = await answer.json()
    assert body["status"] == "queued"
    assert body["by"] == "agent-7"
    entry = await ledger.get(HOOK.message_id)
    assert entry is not None
    assert entry.state is MessageState.QUEUED
    assert entry.manual
    again = await client.post(url, headers=auth("supervisor"))
    assert again.status == 409  # queued already
    assert "queued" in (await again.json())["reason"]
    sent = await client.post(
        f"/v1/notify/messages/{EMAIL.message_id}/resend", headers=auth("admin")
    )
    assert sent.status == 202
    assert (await sent.json())["recipient"] == "a***@example.com"  # admin is not a case worker
    quiet = await client.post(
        f"/v1/notify/messages/{QUIET.message_id}/resend", headers=auth("agent")
    )
    assert quiet.status == 409
    assert "opted_out" in (await quiet.json())["reason"]
    unknown = await client.post("/v1/notify/messages/msg_nope/resend", headers=auth("agent"))
    assert unknown.status == 404
    assert "not known" in (await unknown.json())["reason"]


# the development outbox -----------------------------------------------------------------------


async def test_the_outbox_in_development(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    outbox = Outbox(redis, prefix)
    for n in range(3):
        await outbox.append({"kind": "sms", "to": "+15551234567", "text": f"message {n}"})
    answer = await client.get("/v1/dev/outbox?limit=2")
    assert answer.status == 200
    assert [i["text"] for i in (await answer.json())["items"]] == ["message 2", "message 1"]
    assert (await client.get("/v1/dev/outbox?limit=x")).status == 400
    # one recipient's messages are found among everything kept, not only the newest page
    await outbox.append({"kind": "email", "to": "Ada@Example.com", "subject": "old one"})
    for n in range(5):
        await outbox.append({"kind": "email", "to": "bob@example.com", "subject": f"news {n}"})
    mine = await client.get("/v1/dev/outbox", params={"limit": "2", "to": " ada@example.COM "})
    assert [i["subject"] for i in (await mine.json())["items"]] == ["old one"]
    newest = await (await client.get("/v1/dev/outbox?limit=2")).json()
    assert "old one" not in [i.get("subject") for i in newest["items"]]
    blank = await client.get("/v1/dev/outbox", params={"to": "  "})
    assert blank.status == 400
    assert "to must be" in (await blank.json())["reason"]
    # one kind's messages, however many of the others came since
    texts = await (await client.get("/v1/dev/outbox?kind=sms&limit=5")).json()
    assert [i["text"] for i in texts["items"]] == ["message 2", "message 1", "message 0"]
    kinds = await client.get("/v1/dev/outbox?kind=fax")
    assert kinds.status == 400
    assert "kind must be one of email, sms, webhook" in (await kinds.json())["reason"]
    page = await client.get("/outbox")
    assert page.status == 200
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "outbox.js" in await page.text()


async def test_no_outbox_in_production(settings: Settings, redis: aioredis.Redis) -> None:
    notify = NotifySettings(unsubscribe_secret=SecretStr("unsubscribe-secret-for-the-tests-0123"))
    prod = settings.model_copy(update={"environment": "prod", "notify": notify})
    client: Client
    async with TestClient(TestServer(create_app(prod))) as client:
        assert (await client.get("/outbox")).status == 404
        assert (await client.get("/v1/dev/outbox")).status == 404
