"""Re-check with carrier in the console, against the session's `wismo up`: an agent opens a
simulated order whose UPS parcel the poll role polls (from the simulated carrier), sees when it
was last checked and when it is next due, asks for a re-check and sees the carrier's answer
arrive without reloading."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import pytest

from tests.browser.conftest import System
from tests.browser.test_console_work import token

pytestmark = pytest.mark.browser

#: the demo orders `wismo up --demo-orders 16` numbers from 100000; not the first, the one told
#: across the whole run (its page redraws as it moves)
DEMO_NUMBERS = [str(100000 + n) for n in range(1, 16)]
#: a simulated parcel polled once: its order's scans, then the demo cadence (30 s), loaded machine
POLLED_S = 120.0
LIVE_MS = 15_000
#: the console re-reads the parcel 3, 8 and 20 s after a re-check
SEEN_MS = 25_000
_STATE = re.compile(r"^Last checked with carrier (.+?)(?: \((.+)\))? · next (.+)$")


def _poll(system: System, who: str, number: str) -> dict[str, Any] | None:
    status, body = system.request("GET", f"/v1/agent/parcels/{number}/poll", token=who)
    return body if status == 200 else None


def _polled_parcel(system: System, who: str) -> tuple[str, str, str]:
    """(order number, order id, tracking number) of a simulated parcel the poll role has polled
    and will poll again."""
    deadline = time.monotonic() + POLLED_S
    while time.monotonic() < deadline:
        for order_number in DEMO_NUMBERS:
            status, body = system.request("GET", f"/v1/agent/search?q={order_number}", token=who)
            assert status == 200, body
            for result in body["results"]:
                if result.get("order_number") != order_number:
                    continue
                status, detail = system.request(
                    "GET", f"/v1/agent/orders/{result['order_id']}", token=who
                )
                assert status == 200, detail
                for shipment in detail["timeline"]["shipments"]:
                    number = shipment.get("tracking_number")
                    poll = _poll(system, who, number) if number else None
                    if poll and poll["last_polled_at"] and poll["next_poll_at"]:
                        return order_number, result["order_id"], number
        time.sleep(3)
    pytest.fail(f"no simulated parcel polled within {POLLED_S:.0f} s\n{system.log_tail()}")


def _shown(page: Any, moment: str) -> str:
    """``moment`` as the console writes it (its own formatter, in the browser's locale)."""
    shown: str = page.evaluate(
        "async (iso) => (await import('/static/common.js')).formatDateTime(iso)", moment
    )
    return shown


def test_the_console_shows_carrier_checks_and_a_recheck_live(page: Any, system: System) -> None:
    who = token("agent-poll", "agent")
    order_number, order_id, number = _polled_parcel(system, who)
    before = _poll(system, who, number)
    assert before is not None

    page.goto(f"{system.base}/console?token={who}")
    page.wait_for_selector("#live.on")
    page.get_by_label("Find an order").fill(order_number)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("list", name="Search results").locator(f'a[href="#/order/{order_id}"]').click()
    row = page.locator(f'li[data-poll="{number}"]')
    state = row.locator("[data-poll-state]")
    state.wait_for(timeout=LIVE_MS)

    # real times, as the poll role has them (it may have polled again while the page loaded)
    after = _poll(system, who, number)
    assert after is not None
    shown = _STATE.match(state.inner_text())
    assert shown, state.inner_text()
    readings = (before, after)
    assert shown.group(1) in {_shown(page, p["last_polled_at"]) for p in readings}
    assert shown.group(3) in {
        _shown(page, p["next_poll_at"]) for p in readings if p["next_poll_at"]
    }
    assert shown.group(2) in {"brought new scans", "nothing new"}

    # re-check: the request is acknowledged at once, the carrier's answer shows without reloading
    page.evaluate("window.__sameDocument = true")
    row.get_by_role("button", name="Re-check with carrier").click()
    row.get_by_role("status").filter(has_text="Re-check asked").wait_for(timeout=LIVE_MS)

    deadline = time.monotonic() + SEEN_MS / 1000
    while True:
        polled = _poll(system, who, number)
        assert polled is not None
        asked, last = polled["requested_at"], polled["last_polled_at"]
        if asked and last and datetime.fromisoformat(last) >= datetime.fromisoformat(asked):
            break
        assert time.monotonic() < deadline, f"the re-check was not polled: {polled}"
        time.sleep(0.5)
    assert datetime.fromisoformat(last) > datetime.fromisoformat(after["last_polled_at"])
    # a re-read after that poll redraws the line: its time, and no "asked" or "waiting" note
    fresh = f"Last checked with carrier {_shown(page, last)} ("
    page.wait_for_function(
        """([number, fresh]) => {
          const row = document.querySelector(`li[data-poll="${number}"]`);
          const state = row && row.querySelector("[data-poll-state]");
          const note = row && row.querySelector("[role=status]");
          return state && state.textContent.startsWith(fresh) && !note;
        }""",
        arg=[number, fresh],
        timeout=SEEN_MS,
    )
    assert _STATE.match(state.inner_text()), state.inner_text()
    assert page.evaluate("window.__sameDocument") is True
    assert row.get_by_role("button", name="Re-check with carrier").is_enabled()
