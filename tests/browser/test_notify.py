"""Getting updates on the status page, the one-click unsubscribe page, parcel links, and the
development outbox — against a running ``wismo up`` in headless chromium."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import redis.asyncio as aioredis

from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import Message, NotifyChannel
from projections.notify.subscriptions import SubscriptionStore
from projections.notify.unsubscribe import unsubscribe_token
from tests.browser.conftest import DEMO_EMAIL, DEMO_ORDER, System
from wismo.settings import NotifySettings

pytestmark = pytest.mark.browser


def look_up(page: Any, system: System) -> None:
    page.goto(f"{system.base}/track?order={DEMO_ORDER}")
    assert page.get_by_label("Order number").input_value() == DEMO_ORDER  # prefilled
    page.get_by_label("E-mail address or delivery postcode").fill(DEMO_EMAIL)
    page.get_by_role("button", name="Track order").click()
    page.wait_for_selector("#updates:not([hidden]) #updates-list li")


def order_and_token(system: System) -> tuple[str, str]:
    status, found = system.request(
        "POST", "/v1/lookup", {"order_number": DEMO_ORDER, "email": DEMO_EMAIL}
    )
    assert status == 200, found
    return found["order_id"], found["token"]


def preferences(system: System) -> list[dict[str, Any]]:
    order_id, token = order_and_token(system)
    status, state = system.request("GET", f"/v1/orders/{order_id}/notifications", token=token)
    assert status == 200, state
    return list(state["recipients"])


def test_get_updates_on_the_status_page_and_stop_them(page: Any, system: System) -> None:
    look_up(page, system)
    address = f"u{uuid.uuid4().hex[:8]}@example.com"
    page.get_by_label("Send updates by").select_option("email")
    page.locator("#updates-address").fill(address)
    page.get_by_role("button", name="Get updates").click()
    masked = f"{address[0]}***@example.com"
    row = page.locator("#updates-list li[data-subscribed='true']", has_text=masked)
    row.wait_for()
    assert address not in page.locator("#updates").inner_text()  # shown masked
    assert any(r["address"] == masked and r["subscribed"] for r in preferences(system))
    row.get_by_role("button", name=re.compile("Stop updates")).click()
    page.locator("#updates-list li[data-subscribed='false']", has_text=masked).wait_for()
    assert any(r["address"] == masked and not r["subscribed"] for r in preferences(system))
    # a phone number that is no phone number is refused with the reason, and nothing changes
    page.get_by_label("Send updates by").select_option("sms")
    page.locator("#updates-address").fill("call me")
    page.get_by_role("button", name="Get updates").click()
    page.locator("#updates-error:not([hidden])").wait_for()
    assert "number" in page.locator("#updates-error").inner_text()


def test_the_unsubscribe_link_asks_first_then_unsubscribes(page: Any, system: System) -> None:
    order_id, _ = order_and_token(system)
    address = f"link{uuid.uuid4().hex[:6]}@example.com"
    secret = NotifySettings().unsubscribe_secret.get_secret_value()  # wismo up's development one
    token = unsubscribe_token(secret, order_id, "email", address)
    page.goto(f"{system.base}/v1/notify/unsubscribe?token={token}")
    button = page.get_by_role("button", name="Unsubscribe")
    assert button.is_visible()
    masked = "l***@example.com"
    assert masked in page.locator("main").inner_text()
    # following the link changed nothing (mail scanners follow links)
    assert not any(r["address"] == masked for r in preferences(system))
    button.click()
    page.locator("#done").wait_for()
    assert any(r["address"] == masked and not r["subscribed"] for r in preferences(system))


def test_a_broken_unsubscribe_link_says_why(page: Any, system: System) -> None:
    answer = page.goto(f"{system.base}/v1/notify/unsubscribe?token=not-a-token")
    assert answer.status == 400
    assert "not valid" in page.locator("main").inner_text()


def test_a_parcel_link_opens_the_public_parcel_view(page: Any, system: System) -> None:
    view = system.customer_view(DEMO_ORDER, DEMO_EMAIL)
    number = next(s["tracking_number"] for s in view["shipments"] if s.get("tracking_number"))
    page.goto(f"{system.base}/track?tracking={number}")
    page.wait_for_selector(f"#parcel:not([hidden]) .shipment[data-tracking='{number}']")
    assert page.locator("#lookup").is_hidden()
    assert DEMO_EMAIL not in page.locator("#parcel").inner_text()


def outbox_email(system: System, to: str, within_s: float) -> dict[str, Any] | None:
    """The newest e-mail to ``to`` in the development outbox with an unsubscribe link."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        status, found = system.request("GET", f"/v1/dev/outbox?limit=500&to={quote(to)}")
        assert status == 200, found
        for item in found["items"]:
            headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
            if item["kind"] == "email" and item["to"] == to and "list-unsubscribe" in headers:
                return dict(item)
        time.sleep(1.0)
    return None


def test_subscribe_find_the_email_in_the_outbox_and_unsubscribe_from_its_link(
    page: Any, system: System
) -> None:
    """The whole journey: subscribe on /track; the running notify role e-mails the order's
    customer (the embedded SMTP sink keeps it in the outbox); its unsubscribe link, followed
    from the outbox page, asks first and then turns those e-mails off."""
    look_up(page, system)
    address = f"o{uuid.uuid4().hex[:8]}@example.com"
    page.locator("#updates-address").fill(address)
    page.get_by_role("button", name="Get updates").click()
    page.locator("#updates-list li[data-subscribed='true']", has_text="o***@").wait_for()
    # the demo order's milestones e-mail its customer (and, from now on, the new address)
    email = outbox_email(system, DEMO_EMAIL, within_s=60)
    assert email is not None, "no e-mail with an unsubscribe link reached the outbox"
    # the outbox page shows one recipient's messages, however many others came since
    page.goto(f"{system.base}/outbox?to={quote(DEMO_EMAIL)}")
    assert page.get_by_label("Sent to").input_value() == DEMO_EMAIL
    card = page.locator(".outbox-item.email", has_text=email["subject"] or "").first
    card.wait_for()
    cards = page.locator(".outbox-item")
    assert cards.count() == cards.filter(has_text=f"to {DEMO_EMAIL}").count()
    assert card.locator("iframe[sandbox]").count() == (1 if email.get("html") else 0)
    link = card.locator("a.unsubscribe-link")
    href = link.get_attribute("href")
    assert href is not None
    assert href.startswith(system.base), f"{href} does not lead to this API"
    link.click()
    button = page.get_by_role("button", name="Unsubscribe")
    button.wait_for()
    masked = f"{DEMO_EMAIL[0]}***@example.com"
    before = {r["address"]: r["subscribed"] for r in preferences(system)}
    assert before.get(masked) is not False  # following the link changed nothing
    button.click()
    page.locator("#done").wait_for()
    after = {r["address"]: r["subscribed"] for r in preferences(system)}
    assert after[masked] is False


def test_the_outbox_page_shows_what_the_sinks_received(page: Any, system: System) -> None:
    page.goto(f"{system.base}/outbox")
    page.wait_for_selector("#status:has-text('message(s)')")
    assert page.locator("#outbox-error").is_hidden()
    status, found = system.request("GET", "/v1/dev/outbox?limit=500")
    assert status == 200, found
    kinds = {item["kind"] for item in found["items"]}
    for kind in kinds:
        page.locator(f".outbox-item[data-kind='{kind}']").first.wait_for()
    if "webhook" in kinds:
        assert page.locator(".outbox-item.webhook .verified").count() > 0
    if "email" in kinds:  # each e-mail names its sender and its language
        card = page.locator(".outbox-item.email").first
        assert card.locator(".meta.lang").inner_text().startswith("language ")
        assert card.locator(".meta", has_text="from ").count() == 1


def local(url: str, system: System) -> str:
    """A link from a message, pointed at this test's API (its public_url may name another)."""
    parts = urlsplit(url)
    return f"{system.base}{parts.path}?{parts.query}"


# the console ------------------------------------------------------------------------------


def in_redis(system: System, work: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
    """Run ``work`` on a Redis client of its own (Playwright's loop holds this thread)."""

    async def run() -> Any:
        client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
        try:
            return await work(client)
        finally:
            await client.aclose()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(run())).result()


def subscribe(system: System, token: str, description: str) -> dict[str, Any]:
    body = {
        "url": "http://127.0.0.1:9/nobody-listens",
        "event_types": ["order.status_changed"],
        "description": description,
    }
    status, created = system.request("POST", "/v1/notify/subscriptions", body, token=token)
    assert status == 201, created
    return dict(created)


def test_the_console_lists_webhooks_pauses_resumes_and_shows_the_log(
    page: Any, system: System
) -> None:
    token = system.agent_token()
    active = subscribe(system, token, f"OMS {uuid.uuid4().hex[:6]}")
    broken = subscribe(system, token, f"CRM {uuid.uuid4().hex[:6]}")
    now = datetime.now(UTC)

    async def seed(client: aioredis.Redis) -> None:
        store = SubscriptionStore(client, system.prefix)
        await store.disable(broken["id"], "HTTP 500 for 24 h", at=now)
        for attempt, code in enumerate((500, 502), start=1):
            entry = {
                "message_id": "msg_demo",
                "type": "order.status_changed",
                "attempt": attempt,
                "status_code": code,
                "latency_ms": 12.0,
                "error": f"HTTP {code}",
                "at": now,
            }
            await store.record_attempt(broken["id"], entry)

    in_redis(system, seed)
    page.goto(f"{system.base}/console?token={token}#/webhooks")
    row = page.locator(f"tr[data-subscription='{broken['id']}']")
    row.wait_for()
    assert row.locator("[data-state]").inner_text() == "disabled"
    assert "HTTP 500 for 24 h" in row.inner_text()
    row.get_by_role("button", name="Delivery log").click()
    log = page.locator(f"[data-log='{broken['id']}'] tbody tr")
    log.first.wait_for()
    assert [log.nth(i).get_attribute("data-status") for i in range(log.count())] == ["502", "500"]
    assert "12 ms" in log.first.inner_text()
    row.get_by_role("button", name="Re-enable").click()
    page.locator(f"tr[data-subscription='{broken['id']}'] [data-state='active']").wait_for()
    mine = page.locator(f"tr[data-subscription='{active['id']}']")
    mine.get_by_role("button", name="Pause").click()
    page.locator(f"tr[data-subscription='{active['id']}'] [data-state='paused']").wait_for()
    page.locator(f"tr[data-subscription='{active['id']}']").get_by_role(
        "button", name="Resume"
    ).click()
    page.locator(f"tr[data-subscription='{active['id']}'] [data-state='active']").wait_for()
    # a new subscription from the console: its secret is shown once, then never listed
    page.locator("#webhook-url").fill("http://127.0.0.1:9/from-the-console")
    page.locator("#webhook-types").fill("order.status_changed, return.*")
    page.locator("#webhook-description").fill("made in the console")
    page.locator("#webhook-create").get_by_role("button", name="Add").click()
    secret = page.locator("#webhook-secret code").inner_text()
    assert secret.startswith("whsec_")
    made = page.locator("tr[data-subscription]", has_text="made in the console")
    made.wait_for()
    assert "return.*" in made.inner_text()
    made.get_by_role("button", name="Rotate secret").click()
    page.locator("#webhook-secret", has_text="New signing secret").wait_for()
    rotated = page.locator("#webhook-secret code").inner_text()
    assert rotated.startswith("whsec_")
    assert rotated != secret
    status, listed = system.request("GET", "/v1/notify/subscriptions", token=token)
    assert status == 200
    assert secret not in str(listed)
    assert rotated not in str(listed)
    # a viewer sees the list, without the buttons that change it
    page.goto(f"{system.base}/console?token={system.agent_token(('viewer',))}#/webhooks")
    page.locator(f"tr[data-subscription='{active['id']}']").wait_for()
    assert page.locator("#webhooks-table button[data-action='pause']").count() == 0
    assert page.locator("#webhook-create").count() == 0


def test_the_console_shows_an_orders_notifications_and_re_sends(page: Any, system: System) -> None:
    token = system.agent_token()
    sub = subscribe(system, token, "re-send target")
    order_id, _ = order_and_token(system)
    now = datetime.now(UTC)
    message = Message(
        key=f"{order_id}|browser-test|{uuid.uuid4().hex}",
        order_id=order_id,
        channel=NotifyChannel.WEBHOOK,
        recipient=sub["id"],
        kind="order.status_changed",
        subject=order_id,
        payload={},
        triggered_at=now,
        due_at=now,
    )

    async def seed(client: aioredis.Redis) -> None:
        ledger = Ledger(client, system.prefix)
        await ledger.commit_plan(order_id, SimplePlan(messages=[message]), now)
        await ledger.mark_sending(message.message_id, 1, now)
        await ledger.mark_failed(message.message_id, "endpoint disabled", now, status_code=500)

    in_redis(system, seed)
    page.goto(f"{system.base}/console?token={token}#/order/{order_id}")
    row = page.locator(f"#order-notifications tr[data-message='{message.message_id}']")
    row.wait_for()
    assert row.get_attribute("data-state") == "failed"
    assert "endpoint disabled" in row.inner_text()
    row.get_by_role("button", name="Re-send").click()
    page.locator("#notifications-status:has-text('queued')").wait_for()
    entry = in_redis(system, lambda client: Ledger(client, system.prefix).get(message.message_id))
    assert entry is not None
    assert entry.manual
