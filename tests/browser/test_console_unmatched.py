"""Unmatched scans in the console against a running ``wismo up``: a UPS scan for a number no
order names is parked; an agent finds it under "Unmatched scans", links it to its order, and
the scan lands on the order while the number leaves the list."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from bench.webhooks import Post, ups_alert
from tests.browser.conftest import SHOTS, System, post_webhooks

pytestmark = pytest.mark.browser

LIVE_S = 20.0


def _until(check: Any, what: str, system: System) -> Any:
    deadline = time.monotonic() + LIVE_S
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    pytest.fail(f"{what} not within {LIVE_S:.0f}s\n{system.log_tail()}")


def test_an_agent_links_a_parked_number_to_its_order(page: Any, system: System) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    order_id, number = f"BROWSER-LINK-{tag}", f"1ZLOST{tag}001"
    now = datetime.now(UTC).replace(microsecond=0)
    placed = {
        "event_id": f"oms:{order_id}:placed",
        "kind": "order.placed",
        "order_id": order_id,
        "occurred_at": (now - timedelta(hours=3)).isoformat(),
        "payload": {"order_number": f"L{tag}", "lines": [{"line_id": "L1", "quantity": 1}]},
    }
    scan = ups_alert(number, now, "exception", "weather_delay", date.today() + timedelta(days=2))
    post_webhooks(
        system,
        [
            Post("oms", orjson.dumps(placed), f"browser-link-{tag}-placed", 0),
            Post("ups", scan, f"browser-link-{tag}-scan", 0),
        ],
    )
    agent = system.agent_token(("agent",))

    def parked() -> bool:
        status, body = system.request("GET", f"/v1/agent/unmatched?q={number}", token=agent)
        order, _ = system.request("GET", f"/v1/agent/orders/{order_id}", token=agent)
        return status == 200 and len(body["numbers"]) == 1 and order == 200

    _until(parked, "the parked scan and the order", system)

    page.goto(f"{system.base}/console?token={agent}#/unmatched")
    page.wait_for_selector("#unmatched:not([hidden])")
    assert page.is_hidden("#queue")
    page.fill("#unmatched-q", number.lower())
    page.click("#unmatched-search button[type=submit]")
    row = page.locator(f'tr[data-number="{number}"]')
    row.wait_for()
    assert "ups" in row.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-unmatched-listed.png"), full_page=True)
    row.locator('button[data-action="link"]').click()
    row.locator("input[name=order_id]").fill(order_id)
    row.locator("input[name=note]").fill("label reprinted by the warehouse")
    row.locator("button[type=submit]").click()
    page.wait_for_selector(f"#unmatched-status:has-text('{number} linked to {order_id}')")
    page.wait_for_selector("#unmatched-empty", timeout=LIVE_S * 1000)
    assert f"{number} linked to {order_id}" in page.inner_text("#unmatched-status")
    page.screenshot(path=str(SHOTS / "console-unmatched-linked.png"), full_page=True)

    def on_the_order() -> dict[str, Any] | None:
        status, body = system.request("GET", f"/v1/agent/orders/{order_id}", token=agent)
        shipments = body["timeline"]["shipments"] if status == 200 else []
        found = [s for s in shipments if s.get("tracking_number") == number and s["checkpoints"]]
        return found[0] if found else None

    shipment = _until(on_the_order, "the released scan on the order", system)
    assert shipment["linked_by"] == "browser-test"


def test_wismo_up_sends_some_parcels_no_order_names(system: System) -> None:
    """The simulated traffic has stray parcels, so the list has something to link in a demo."""
    agent = system.agent_token(("agent",))

    def strays() -> list[dict[str, Any]]:
        status, body = system.request("GET", "/v1/agent/unmatched?q=1ZSTRAY", token=agent)
        assert status == 200, body
        return [row for row in body["numbers"] if row["tracking_number"].startswith("1ZSTRAY")]

    found = _until(strays, "a stray parcel of the simulated traffic", system)
    assert all(row["scans"] >= 1 for row in found)
