"""Self-service on the status page, against a running ``wismo up`` in headless chromium: report
a problem with a photo, ask for a return and a cancellation, and watch each one's state change
live; look a parcel up by its tracking number."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from PIL import Image

from bench.webhooks import Post, ups_alert
from tests.browser.conftest import System, post_webhooks

pytestmark = pytest.mark.browser

EMAIL = "selfservice@example.com"
#: webhook to the page, through the broker hops of the stream roles
WITHIN_MS = 20_000


@pytest.fixture(scope="module")
def order(system: System) -> dict[str, str]:
    """A new order: L1 and L2 in a delivered UPS parcel, L4 in a parcel on its way, L3 in no
    fulfilment order yet."""
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    now = datetime.now(UTC).replace(microsecond=0)
    order_id, number, tracking = f"SELF-{tag}", f"S{tag}", f"1Z999SS1{tag[:10]}"
    lines = [
        {"line_id": "L1", "name": "Tent", "quantity": 1},
        {"line_id": "L2", "name": "Sleeping bag", "quantity": 2},
        {"line_id": "L3", "name": "Camping stove", "quantity": 1},
        {"line_id": "L4", "name": "Lantern", "quantity": 1},
    ]
    placed = {
        "event_id": f"oms:{order_id}:placed",
        "kind": "order.placed",
        "order_id": order_id,
        "occurred_at": (now - timedelta(days=2)).isoformat(),
        "payload": {"order_number": number, "customer_email": EMAIL, "lines": lines},
    }
    shipped = {
        "event_id": f"wms:{order_id}:shipped",
        "kind": "fulfilment.shipped",
        "order_id": order_id,
        "occurred_at": (now - timedelta(days=1)).isoformat(),
        "payload": {
            "shipment_id": f"SH-{tag}",
            "fulfilment_order_id": f"FO-{tag}",
            "carrier": "ups",
            "tracking_number": tracking,
            "lines": [{"line_id": "L1", "quantity": 1}, {"line_id": "L2", "quantity": 2}],
        },
    }
    second = {
        **shipped,
        "event_id": f"wms:{order_id}:shipped-2",
        "payload": {
            "shipment_id": f"SH2-{tag}",
            "fulfilment_order_id": f"FO2-{tag}",
            "carrier": "ups",
            "tracking_number": f"{tracking}2",
            "lines": [{"line_id": "L4", "quantity": 1}],
        },
    }
    delivered = ups_alert(tracking, now - timedelta(hours=1), "delivered", None, date.today())
    post_webhooks(
        system,
        [
            Post("oms", orjson.dumps(placed), f"self-{tag}-placed", 0),
            Post("wms", orjson.dumps(shipped), f"self-{tag}-shipped", 0),
            Post("wms", orjson.dumps(second), f"self-{tag}-shipped-2", 0),
            Post("ups", delivered, f"self-{tag}-delivered", 0),
        ],
    )
    deadline = time.monotonic() + 30
    view: dict[str, Any] = {}
    while True:
        try:
            view = system.customer_view(number, EMAIL)
            if view["actions"]["returnable"] and view["actions"]["cancellable"]:
                break
        except AssertionError:
            pass
        assert time.monotonic() < deadline, f"the order never became returnable: {view}"
        time.sleep(0.5)
    return {"order_id": order_id, "number": number, "tracking": tracking}


def open_order(page: Any, system: System, order: dict[str, str]) -> None:
    page.goto(f"{system.base}/track")
    page.get_by_label("Order number").fill(order["number"])
    page.get_by_label("E-mail address or delivery postcode").fill(EMAIL)
    page.get_by_role("button", name="Track order").click()
    page.wait_for_selector("#actions:not([hidden]) #action-forms form")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_report_a_problem_with_a_photo_and_see_its_state(
    page: Any, system: System, order: dict[str, str]
) -> None:
    open_order(page, system, order)
    page.get_by_label("What went wrong").select_option("damaged")
    page.get_by_label("Which parcel").select_option(order["tracking"])
    page.get_by_label("Tell us more").fill("The tent poles arrived bent.")
    # the page checks type and size before sending
    page.get_by_label("Photo (optional)").set_input_files(
        {"name": "note.txt", "mimeType": "text/plain", "buffer": b"not a photo"}
    )
    page.get_by_role("button", name="Send report").click()
    assert "JPEG, PNG or WebP" in page.locator("#problem-error").inner_text()
    page.get_by_label("Photo (optional)").set_input_files(
        {"name": "poles.png", "mimeType": "image/png", "buffer": png()}
    )
    page.get_by_role("button", name="Send report").click()
    page.locator("#actions-status", has_text="your report was sent").wait_for()
    report = page.locator("#problems-list li[data-state='open']")
    report.wait_for(timeout=WITHIN_MS)
    assert "Damaged" in report.inner_text()
    assert "The tent poles arrived bent." in report.inner_text()
    photo = report.locator("img.photo")
    photo.wait_for()
    page.wait_for_function("document.querySelector('#problems-list img.photo').naturalWidth > 0")
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
    (reported,) = system.customer_view(order["number"], EMAIL)["problems"]
    assert reported["subject"] == order["tracking"]
    # an agent sees the report in the console and opens its photo (fetched with the agent's token)
    page.goto(
        f"{system.base}/console?token={system.agent_token(('agent',))}#/order/{order['order_id']}"
    )
    row = page.locator("tr[data-exception]", has_text="Customer report: Damaged")
    row.wait_for(timeout=WITHIN_MS)
    assert "The tent poles arrived bent." in row.inner_text()
    row.get_by_role("button", name="Show photo").click()
    shown = row.get_by_alt_text("The photo the customer sent")
    shown.wait_for()
    page.wait_for_function(
        "document.querySelector('img[alt=\"The photo the customer sent\"]').naturalWidth > 0"
    )
    assert shown.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]


def test_request_a_return_and_see_it_listed(
    page: Any, system: System, order: dict[str, str]
) -> None:
    open_order(page, system, order)
    form = page.locator("#return-form")
    row = form.locator("fieldset[data-line='L2']")
    row.get_by_label("Quantity").fill("1")
    row.get_by_label("Reason").select_option("Does not fit")
    page.get_by_role("button", name="Request return").click()
    page.locator("#actions-status", has_text="return request was sent").wait_for()
    listed = page.locator("#returns-list li[data-status='requested']")
    listed.wait_for(timeout=WITHIN_MS)
    assert "1 \u00d7 Sleeping bag (Does not fit)" in listed.inner_text()
    assert listed.locator("[aria-current='step']").inner_text() == "Requested"
    # what is asked for is no longer offered: one sleeping bag is left to return
    page.wait_for_function(
        "document.querySelector(\"#return-form fieldset[data-line='L2'] legend\")"
        ".textContent.includes('up to 1')"
    )


def test_request_a_cancel_and_see_its_state_until_the_shop_answers(
    page: Any, system: System, order: dict[str, str]
) -> None:
    open_order(page, system, order)
    row = page.locator("#cancel-form fieldset[data-line='L3']")
    row.get_by_label("Quantity").fill("1")
    page.get_by_label("Reason (optional)").fill("Found one at home")
    page.get_by_role("button", name="Request cancellation").click()
    requested = page.locator("#cancels-list li[data-status='requested']")
    requested.wait_for(timeout=WITHIN_MS)
    assert "Cancellation requested" in requested.inner_text()
    assert page.locator("#cancel-form").count() == 0  # nothing left to cancel
    request_id = system.customer_view(order["number"], EMAIL)["cancel_requests"][0]["request_id"]
    confirmed = {
        "event_id": f"oms:{request_id}:confirmed",
        "kind": "cancel.confirmed",
        "order_id": order["order_id"],
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"request_id": request_id},
    }
    post_webhooks(system, [Post("oms", orjson.dumps(confirmed), f"{request_id}-confirmed", 0)])
    page.locator("#cancels-list li[data-status='confirmed']").wait_for(timeout=WITHIN_MS)


def test_look_a_parcel_up_by_its_tracking_number(
    page: Any, system: System, order: dict[str, str]
) -> None:
    page.goto(f"{system.base}/track")
    page.get_by_label("Tracking number", exact=True).fill(order["tracking"])
    page.get_by_role("button", name="Track parcel").click()
    page.wait_for_selector("#parcel:not([hidden]) .shipment")
    assert f"tracking={order['tracking']}" in page.url
    assert page.locator("#parcel-title").inner_text() == f"Parcel {order['tracking']}"
    assert page.locator(".shipment .pill").get_attribute("data-status") == "delivered"
