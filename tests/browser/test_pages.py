"""The status page, the agent console and the SLA page against a running ``wismo up``."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jwt
import orjson
import pytest
from pydantic import SecretStr

from api.auth import issue_customer_token
from bench.webhooks import Post, ups_alert
from tests.browser.conftest import (
    AGENT_SECRET,
    CUSTOMER_SECRET,
    DEMO_EMAIL,
    DEMO_ORDER,
    System,
    post_webhooks,
)

pytestmark = pytest.mark.browser

#: from the change in Redis to the page showing it (websocket push and render)
LIVE_WITHIN_MS = 2000
#: webhook to Redis, through the broker hops of the stream roles
PIPELINE_WITHIN_S = 15.0


def look_up(page: Any, system: System, order: str = DEMO_ORDER, email: str = DEMO_EMAIL) -> None:
    page.goto(f"{system.base}/track")
    page.get_by_label("Order number").fill(order)
    page.get_by_label("E-mail address or delivery postcode").fill(email)
    page.get_by_role("button", name="Track order").click()


def test_lookup_shows_each_parcel_with_its_milestones(page: Any, system: System) -> None:
    look_up(page, system)
    page.wait_for_selector("#order:not([hidden]) .shipment")
    view = system.customer_view(DEMO_ORDER, DEMO_EMAIL)
    assert page.locator("#order-title").inner_text() == f"Order {DEMO_ORDER}"
    cards = page.locator(".shipment")
    # what the page shows is the API's view: one card per parcel, same status, same carrier
    page.wait_for_function(
        "n => document.querySelectorAll('.shipment').length >= n", arg=len(view["shipments"])
    )
    shown = {
        cards.nth(i).get_attribute("data-tracking"): cards.nth(i).locator("[data-status]")
        for i in range(cards.count())
    }
    for shipment in view["shipments"]:
        assert shipment["tracking_number"] in shown
    scanned = max(view["shipments"], key=lambda s: len(s["checkpoints"]))
    first = page.locator(f'.shipment[data-tracking="{scanned["tracking_number"]}"]')
    steps = first.locator("ol.progress li")
    assert steps.nth(0).inner_text().startswith("Ordered")
    assert "done" in (steps.nth(0).get_attribute("class") or "")
    assert "done" in (steps.nth(1).get_attribute("class") or "")  # it has shipped
    # every checkpoint the API knows is in the history (more may have arrived since)
    page.wait_for_function(
        "([number, n]) => document.querySelectorAll("
        "`.shipment[data-tracking='${number}'] ol.history li`).length >= n",
        arg=[scanned["tracking_number"], len(scanned["checkpoints"])],
    )
    assert scanned["carrier"].upper() in first.inner_text()
    assert first.locator(".arrives").inner_text().strip() != ""
    assert page.locator("#summary ul.items li").count() == len(view["items"])


def test_a_new_scan_updates_the_open_page_without_reload(page: Any, system: System) -> None:
    look_up(page, system)
    page.wait_for_selector("#live.on")
    status, found = system.request(
        "POST", "/v1/lookup", {"order_number": DEMO_ORDER, "email": DEMO_EMAIL}
    )
    assert status == 200, found

    def read() -> dict[str, Any]:
        code, view = system.request("GET", f"/v1/orders/{found['order_id']}", token=found["token"])
        assert code == 200, view
        return dict(view)

    view = read()
    ups = next(s for s in view["shipments"] if s["carrier"] == "ups" and s["status"] != "delivered")
    number = ups["tracking_number"]
    page.evaluate("window.__sameDocument = true")
    status_pill = page.locator(f'.shipment[data-tracking="{number}"] h2 [data-status]')
    assert status_pill.get_attribute("data-status") != "delivered"
    alert = ups_alert(
        number, datetime.now(UTC).replace(microsecond=0), "delivered", None, date.today()
    )
    posted = time.monotonic()
    post_webhooks(system, [Post("ups", alert, f"browser-delivered-{number}", 0)])
    # the stream pipeline's share (broker hops, fold, Redis) ends when the API reads the change
    while not any(
        s["tracking_number"] == number and s["status"] == "delivered" for s in read()["shipments"]
    ):
        assert time.monotonic() - posted < PIPELINE_WITHIN_S, "the scan never reached Redis"
        time.sleep(0.01)
    stored = time.monotonic()
    page.wait_for_selector(
        f'.shipment[data-tracking="{number}"] h2 [data-status="delivered"]',
        timeout=LIVE_WITHIN_MS,
    )
    shown = time.monotonic()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    steps = page.locator(f'.shipment[data-tracking="{number}"] ol.progress li.done')
    assert steps.count() == 5
    print(
        f"webhook → page {1000 * (shown - posted):.0f} ms "
        f"(pipeline {1000 * (stored - posted):.0f} ms, "
        f"push and render {1000 * (shown - stored):.0f} ms)"
    )


def test_an_expired_token_is_renewed_and_the_page_stays_live(page: Any, system: System) -> None:
    """The first look-up answers a token of a few seconds: its socket is closed with 4440 when it
    expires, and the page looks the order up again by itself and goes on, without the form."""
    lookups: list[str] = []

    def short_lived(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        lookups.append(body["token"])
        if len(lookups) == 1:
            now = datetime.now(UTC)
            body["token"] = issue_customer_token(
                SecretStr(CUSTOMER_SECRET), body["order_id"], now, 3
            )
        route.fulfill(response=response, json=body)

    page.route("**/v1/lookup", short_lived)
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    look_up(page, system)
    page.wait_for_selector("#live.on")
    deadline = time.monotonic() + 15
    while len(lookups) < 2 or not any(lookups[1] in ws.url for ws in sockets):
        assert time.monotonic() < deadline, "the page never renewed its token"
        page.wait_for_timeout(100)
    page.wait_for_selector("#live.on")
    assert sockets[0].is_closed()
    assert page.locator("#lookup").is_hidden()
    assert page.locator("#order").is_visible()


def test_the_console_asks_for_a_fresh_token_and_resumes(page: Any, system: System) -> None:
    claims = {"sub": "browser-test", "roles": ["viewer"], "exp": int(time.time()) + 3}
    page.goto(f"{system.base}/console?token={jwt.encode(claims, AGENT_SECRET, 'HS256')}")
    page.wait_for_selector("#live.on")
    page.locator("#login-error", has_text="expired").wait_for(timeout=10_000)
    assert page.locator("#login").is_visible()
    page.locator("#token").fill(system.agent_token(("viewer",)))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#live.on")
    assert page.locator("#login").is_hidden()


def test_the_wrong_email_is_refused(page: Any, system: System) -> None:
    look_up(page, system, email="someone.else@example.com")
    alert = page.get_by_role("alert").filter(has_text="could not find")
    alert.wait_for()
    assert page.locator("#order").is_hidden()
    assert page.evaluate("sessionStorage.getItem('wismo.order')") is None


def test_lookup_works_with_the_keyboard_alone(page: Any, system: System) -> None:
    page.goto(f"{system.base}/track")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(3):  # past the site name, to the first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "order-number":
            break
    assert page.evaluate("document.activeElement.id") == "order-number"
    page.keyboard.type(DEMO_ORDER)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_EMAIL)
    page.keyboard.press("Enter")
    page.wait_for_selector("#order:not([hidden]) .shipment")
    # focus moves to the order's heading, so a screen reader starts there
    page.wait_for_function("document.activeElement && document.activeElement.id === 'order-title'")


def test_a_phone_width_screen_needs_no_horizontal_scroll(browser: Any, system: System) -> None:
    from tests.browser.conftest import SHOTS

    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        look_up(page, system)
        page.wait_for_selector("#order:not([hidden]) .shipment")
        width = page.evaluate("document.documentElement.scrollWidth")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "status-page-360px.png"), full_page=True)
    finally:
        context.close()
    assert width <= 360


def _order_with_weather_delay(tag: str) -> tuple[str, list[Post]]:
    """A new order whose UPS parcel reports a weather delay: one carrier exception."""
    now = datetime.now(UTC).replace(microsecond=0)
    order_id, number = f"BROWSER-{tag}", f"1Z999BR1{tag[:10].upper()}"
    placed = {
        "event_id": f"oms:{order_id}:placed",
        "kind": "order.placed",
        "order_id": order_id,
        "occurred_at": (now - timedelta(hours=5)).isoformat(),
        "payload": {
            "order_number": f"B{tag}",
            "customer_email": "browser@example.com",
            "lines": [{"line_id": "L1", "name": "Tent", "quantity": 1}],
        },
    }
    shipped = {
        "event_id": f"wms:{order_id}:shipped",
        "kind": "fulfilment.shipped",
        "order_id": order_id,
        "occurred_at": (now - timedelta(hours=2)).isoformat(),
        "payload": {"carrier": "ups", "tracking_number": number},
    }
    delay = ups_alert(number, now, "exception", "weather_delay", date.today() + timedelta(days=2))
    return order_id, [
        Post("oms", orjson.dumps(placed), f"browser-{tag}-placed", 0),
        Post("wms", orjson.dumps(shipped), f"browser-{tag}-shipped", 0),
        Post("ups", delay, f"browser-{tag}-delay", 0),
    ]


def test_the_console_shows_a_new_exception_live_and_takes_it_through(
    page: Any, system: System
) -> None:
    token = system.agent_token()
    page.goto(f"{system.base}/console?token={token}")
    page.wait_for_selector("#live.on")
    page.wait_for_selector("#queue-table tbody tr")
    # the filters narrow the queue
    page.get_by_label("Severity").select_option("high")
    severities = page.locator("#queue-table tbody tr td:first-child")
    assert all(t == "high" for t in severities.all_inner_texts())
    page.get_by_label("Severity").select_option("")
    page.get_by_label("Carrier", exact=True).select_option("ups")
    carriers = page.locator("#queue-table tbody tr td:nth-child(4)").all_inner_texts()
    assert set(carriers) <= {"ups"}
    page.get_by_label("Carrier", exact=True).select_option("")
    page.evaluate("window.__sameDocument = true")
    order_id, posts = _order_with_weather_delay(datetime.now(UTC).strftime("%H%M%S%f"))
    post_webhooks(system, posts)
    row = page.locator(
        "#queue-table tbody tr", has=page.locator(f'a[href="#/order/{order_id}"]')
    ).filter(has_text="weather delay")
    row.wait_for(timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    exception_id = row.get_attribute("data-exception")

    row.get_by_role("button", name="Acknowledge").click()
    page.get_by_label("Note").fill("called UPS: held at the hub until the storm passes")
    page.locator("#act").get_by_role("button", name="Acknowledge").click()
    page.locator(f'tr[data-exception="{exception_id}"] .pill.acknowledged').wait_for(timeout=15_000)

    page.locator(f'tr[data-exception="{exception_id}"]').get_by_role(
        "button", name="Resolve"
    ).click()
    page.get_by_label("Note").fill("delivered after the storm")
    page.locator("#act").get_by_role("button", name="Resolve").click()
    page.locator(f'#queue-table tr[data-exception="{exception_id}"]').wait_for(
        state="detached", timeout=15_000
    )
    status, detail = system.request("GET", f"/v1/agent/orders/{order_id}", token=token)
    assert status == 200
    (exception,) = [
        e for e in detail["timeline"]["exceptions"] if e["exception_id"] == exception_id
    ]
    assert exception["state"] == "resolved"
    assert exception["acknowledged_by"] == exception["resolved_by"] == "browser-test"

    # search finds the order; its page tells the whole story, raw carrier codes included
    page.get_by_label("Find an order").fill(f"B{order_id.removeprefix('BROWSER-')}")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("list", name="Search results").get_by_role("link").first.click()
    page.locator("#order-body table").first.wait_for()
    assert page.locator("#order-title").inner_text().endswith(order_id.removeprefix("BROWSER-"))
    events = page.locator("tr[data-event]")
    assert events.count() == len(detail["events"])
    assert page.locator("#order-body code", has_text="051").count() >= 1


def test_the_sla_page_draws_charts_from_the_warehouse(page: Any, system: System) -> None:
    token = system.agent_token(("viewer",))
    start, end = (date.today() - timedelta(days=56)).isoformat(), date.today().isoformat()
    query = f"/v1/analytics/sla?from={start}&to={end}&by=carrier&section=delivery"

    def delivered() -> list[dict[str, Any]]:
        status, report = system.request("GET", query, token=token)
        assert status == 200, report
        return [row for row in report["delivery"] if row["delivered"]]

    deadline = time.monotonic() + 60
    while not delivered() and time.monotonic() < deadline:
        time.sleep(1)
    rows = delivered()
    assert rows, "no delivered shipment reached ClickHouse"
    page.goto(f"{system.base}/analytics")
    page.get_by_label("Agent token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#chart-on-time svg.chart").wait_for(timeout=20_000)
    page.locator("#chart-click-to-door svg.chart").wait_for()
    drawn = page.locator("#chart-on-time path[data-series]")
    carriers = {drawn.nth(i).get_attribute("data-series") for i in range(drawn.count())}
    assert {row["carrier"] for row in rows} <= carriers
    bars = page.locator("#chart-click-to-door rect[data-group]")
    assert bars.count() == 3 * len({row["carrier"] for row in rows})


def test_analytics_refuses_bad_parameters_and_missing_tokens(system: System) -> None:
    token = system.agent_token(("viewer",))
    status, body = system.request("GET", "/v1/analytics/sla?from=2026-01-01&to=2026-02-01")
    assert status == 401
    for query, words in (
        ("to=2026-02-01", "from is required"),
        ("from=yesterday&to=2026-02-01", "must be a date"),
        ("from=2026-03-01&to=2026-02-01", "before it starts"),
        ("from=2026-01-01&to=2026-02-01&by=planet", "unknown grouping planet"),
        ("from=2026-01-01&to=2026-02-01&section=gossip", "unknown section gossip"),
        ("from=2020-01-01&to=2026-02-01", "at most"),
    ):
        status, body = system.request("GET", f"/v1/analytics/sla?{query}", token=token)
        assert status == 400, (query, body)
        assert words in body["reason"], (query, body)


def test_without_a_websocket_the_page_polls_and_still_updates(page: Any, system: System) -> None:
    page.route_web_socket("**/v1/ws/**", lambda ws: ws.close())
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    _, (placed, shipped, delay) = _order_with_weather_delay(tag)
    post_webhooks(system, [placed, shipped])
    deadline = time.monotonic() + 30
    while (
        system.request(
            "POST", "/v1/lookup", {"order_number": f"B{tag}", "email": "browser@example.com"}
        )[0]
        != 200
    ):
        assert time.monotonic() < deadline, "the new order never became visible"
        time.sleep(1.5)
    look_up(page, system, order=f"B{tag}", email="browser@example.com")
    page.wait_for_selector("#order:not([hidden]) .shipment")
    page.locator("#live", has_text="Checking for updates").wait_for()
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#banner").is_hidden()
    post_webhooks(system, [delay])
    page.locator("#banner").wait_for(state="visible", timeout=40_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator(".shipment h2 [data-status]").first.get_attribute("data-status") == (
        "exception"
    )
