"""Getting updates on the status page, the one-click unsubscribe page, parcel links, and the
development outbox — against a running ``wismo up`` in headless chromium."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest
import redis.asyncio as aioredis

from bench.webhooks import Post, ups_alert
from cli.runtime.sinks import message_id_in
from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import Message, NotifyChannel
from projections.notify.subscriptions import SubscriptionStore, mask_recipient
from projections.notify.unsubscribe import read_unsubscribe_token, unsubscribe_token
from tests.browser.conftest import DEMO_EMAIL, DEMO_ORDER, System, post_webhooks
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


# the journey: subscribe on /track, find the e-mail in the outbox, unsubscribe from its link --

#: how long a scan may take to become a message in the outbox on a loaded machine
MESSAGE_WITHIN_S = 60.0


def new_order(system: System, tag: str, customer: str) -> dict[str, str]:
    """An order of its own (the shop's and the warehouse's signed webhooks): one UPS parcel,
    shipped an hour ago, whose customer the notify role has told so (the outbox holds the
    e-mail). Its journey is this test's alone: the simulator and the other tests do not move
    it, so each scan the test sends is the one milestone it names."""
    now = datetime.now(UTC).replace(microsecond=0)
    order = {
        "order_id": f"NOTIFY-{tag}",
        "number": f"N{tag}",
        "shipment_id": f"SH-{tag}",
        "tracking": f"1Z999NT1{tag}",
        "customer": customer,
    }
    placed = {
        "event_id": f"oms:{order['order_id']}:placed",
        "kind": "order.placed",
        "order_id": order["order_id"],
        "occurred_at": (now - timedelta(hours=3)).isoformat(),
        "payload": {
            "order_number": order["number"],
            "customer_email": customer,
            "lines": [{"line_id": "L1", "name": "Tent", "quantity": 1}],
        },
    }
    shipped = {
        "event_id": f"wms:{order['order_id']}:shipped",
        "kind": "fulfilment.shipped",
        "order_id": order["order_id"],
        "occurred_at": (now - timedelta(hours=1)).isoformat(),
        "payload": {
            "shipment_id": order["shipment_id"],
            "fulfilment_order_id": f"FO-{tag}",
            "carrier": "ups",
            "tracking_number": order["tracking"],
            "lines": [{"line_id": "L1", "quantity": 1}],
        },
    }
    post_webhooks(
        system,
        [
            Post("oms", orjson.dumps(placed), f"notify-{tag}-placed", 0),
            Post("wms", orjson.dumps(shipped), f"notify-{tag}-shipped", 0),
        ],
    )
    told = outbox_emails(system, customer, order["order_id"], "shipped:")
    assert told, f"the order's customer was never told it shipped\n{system.log_tail()}"
    return order


def scan(system: System, order: dict[str, str], status: str) -> None:
    """The carrier's webhook: the order's parcel reached ``status`` just now."""
    at = datetime.now(UTC).replace(microsecond=0)
    alert = ups_alert(order["tracking"], at, status, None, date.today())
    post_webhooks(system, [Post("ups", alert, f"notify-{order['order_id']}-{status}", 0)])


def outbox_emails(
    system: System, to: str, order_id: str, milestone: str, within_s: float = MESSAGE_WITHIN_S
) -> list[dict[str, Any]]:
    """The e-mails to ``to`` in the development outbox that the ledger planned for ``order_id``
    under a milestone key starting with ``milestone``, waiting up to ``within_s`` for one."""
    deadline = time.monotonic() + within_s
    while True:
        query = urlencode({"limit": 500, "kind": "email", "to": to})
        status, found = system.request("GET", f"/v1/dev/outbox?{query}")
        assert status == 200, found
        emails = [
            item
            for item in found["items"]
            if (item.get("planned") or {}).get("order_id") == order_id
            and str(item["planned"]["milestone"]).startswith(milestone)
        ]
        if emails or time.monotonic() > deadline:
            return emails
        time.sleep(1.0)


def order_messages(
    system: System, order_id: str, kind: str, sent_to: str
) -> dict[str, dict[str, Any]]:
    """The order's ``kind`` e-mails in the ledger, by recipient (an agent sees them whole), once
    the one to ``sent_to`` is marked sent (the sink may hold it a moment before)."""
    token = system.agent_token()
    deadline = time.monotonic() + MESSAGE_WITHIN_S
    while True:
        path = f"/v1/agent/orders/{order_id}/notifications"
        status, found = system.request("GET", path, token=token)
        assert status == 200, found
        messages = {
            n["recipient"]: n
            for n in found["notifications"]
            if n["kind"] == kind and n["channel"] == "email"
        }
        if messages.get(sent_to, {}).get("state") == "sent" or time.monotonic() > deadline:
            return messages
        time.sleep(0.5)


def recipients(system: System, order: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The order's e-mail recipients as its customer sees them (masked), by masked address."""
    status, found = system.request(
        "POST", "/v1/lookup", {"order_number": order["number"], "email": order["customer"]}
    )
    assert status == 200, found
    path = f"/v1/orders/{found['order_id']}/notifications"
    status, state = system.request("GET", path, token=found["token"])
    assert status == 200, state
    return {r["address"]: r for r in state["recipients"] if r["channel"] == "email"}


def test_subscribe_find_the_email_in_the_outbox_and_unsubscribe_from_its_link(
    page: Any, system: System
) -> None:
    """The whole journey, tied to one address: subscribed on /track, sent the next milestone
    (its own e-mail in the outbox, found under that address), unsubscribed from that e-mail's
    signed link after a confirmation — and then left out of the milestone after, which the
    order's own customer still gets."""
    tag = f"{uuid.uuid4().int % 10**10:010d}"
    customer, address = f"buyer{tag}@example.com", f"updates{tag}@example.com"
    masked, customer_masked = mask_recipient("email", address), mask_recipient("email", customer)
    order = new_order(system, tag, customer)

    # subscribe on the status page
    page.goto(f"{system.base}/track?order={order['number']}")
    assert page.get_by_label("Order number").input_value() == order["number"]  # prefilled
    page.get_by_label("E-mail address or delivery postcode").fill(customer)
    page.get_by_role("button", name="Track order").click()
    page.wait_for_selector("#updates:not([hidden]) #updates-list li")
    page.get_by_label("Send updates by").select_option("email")
    page.locator("#updates-address").fill(address)
    page.get_by_role("button", name="Get updates").click()
    page.locator("#updates-list li[data-subscribed='true']", has_text=masked).wait_for()
    before = recipients(system, order)
    assert before[masked]["subscribed"] is True
    assert (before[customer_masked]["source"], before[customer_masked]["subscribed"]) == (
        "order",
        True,
    )

    # the next milestone e-mails the new address too: that e-mail, and only it, is in its outbox
    scan(system, order, "out_for_delivery")
    emails = outbox_emails(system, address, order["order_id"], "out_for_delivery:")
    assert len(emails) == 1, f"{emails}\n{system.log_tail()}"
    email = emails[0]
    assert email["to"] == address
    assert email["duplicate"] is False
    assert email["planned"]["recipient"] == address
    status, everything = system.request(
        "GET", f"/v1/dev/outbox?{urlencode({'limit': 500, 'to': address})}"
    )
    assert status == 200, everything
    assert [item["message_id"] for item in everything["items"]] == [email["message_id"]]
    assert outbox_emails(system, customer, order["order_id"], "out_for_delivery:")

    # the outbox page, for that address: its one e-mail, with its unsubscribe link
    page.goto(f"{system.base}/outbox?{urlencode({'to': address})}")
    assert page.get_by_label("Sent to").input_value() == address
    card = page.locator(".outbox-item.email", has_text=email["message_id"])
    card.wait_for()
    cards = page.locator(".outbox-item")
    assert cards.count() == 1
    assert f"to {address}" in card.inner_text()
    assert card.locator(".subject").inner_text() == email["subject"]
    assert card.locator("iframe[sandbox]").count() == (1 if email.get("html") else 0)
    link = card.locator("a.unsubscribe-link")
    href = link.get_attribute("href")
    assert href is not None
    assert href.startswith(f"{system.base}/v1/notify/unsubscribe?"), href
    # the signed one-click link of this e-mail names this order and this address, nothing else
    (token,) = parse_qs(urlsplit(href).query)["token"]
    secret = NotifySettings().unsubscribe_secret.get_secret_value()  # wismo up's development one
    assert read_unsubscribe_token(secret, token) == (order["order_id"], "email", address)
    headers = {name.lower(): value for name, value in email["headers"].items()}
    assert headers["list-unsubscribe"] == f"<{href}>"
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"

    # following it asks first (a mail scanner follows links), then turns that address off
    link.click()
    button = page.get_by_role("button", name="Unsubscribe")
    button.wait_for()
    assert f"e-mails to {masked} about order {order['number']}" in page.locator("main").inner_text()
    assert recipients(system, order)[masked]["subscribed"] is True  # nothing changed yet
    button.click()
    page.locator("#done").wait_for()
    assert masked in page.locator("#done").inner_text()
    after = recipients(system, order)
    assert after[masked]["subscribed"] is False
    assert after[customer_masked] == before[customer_masked]  # the order's own is untouched

    # the milestone after: the order's customer is e-mailed, the address is not
    scan(system, order, "delivered")
    delivered = outbox_emails(system, customer, order["order_id"], "delivered:")
    assert len(delivered) == 1, delivered
    ledger = order_messages(system, order["order_id"], "delivered", sent_to=customer)
    assert (ledger[customer]["state"], ledger[customer]["message_id"]) == (
        "sent",
        message_id_in(delivered[0]["message_id"]),
    )
    assert (ledger[address]["state"], ledger[address]["reason"]) == ("suppressed", "opted_out")
    status, everything = system.request(
        "GET", f"/v1/dev/outbox?{urlencode({'limit': 500, 'to': address})}"
    )
    assert status == 200, everything
    assert [item["message_id"] for item in everything["items"]] == [email["message_id"]]


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
    # a card names what the ledger planned under its id: the order and the milestone
    shown = page.locator(".outbox-item .meta.planned").first.inner_text()
    status, found = system.request("GET", "/v1/dev/outbox?limit=500")  # what the card may show
    assert status == 200, found
    plans = [item["planned"] for item in found["items"] if item.get("planned")]
    assert shown in {f"order {plan['order_id']} · {plan['milestone']}" for plan in plans}


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
