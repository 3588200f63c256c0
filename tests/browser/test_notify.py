"""Getting updates on the status page, the one-click unsubscribe page, parcel links, and the
development outbox — against a running ``wismo up`` in headless chromium."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

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


def test_the_outbox_page_shows_what_the_sinks_received(page: Any, system: System) -> None:
    page.goto(f"{system.base}/outbox")
    page.wait_for_selector("#status:has-text('message(s)')")
    assert page.locator("#outbox-error").is_hidden()


def local(url: str, system: System) -> str:
    """A link from a message, pointed at this test's API (its public_url may name another)."""
    parts = urlsplit(url)
    return f"{system.base}{parts.path}?{parts.query}"
