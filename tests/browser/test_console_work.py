"""Agents working exceptions in two consoles at once against a running ``wismo up``: one takes
an exception and the other sees it taken without reloading; escalation, notes and a message to
the customer; bulk resolve; the supervisors' team queue, whose controls a plain agent never sees."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.browser.conftest import AGENT_SECRET, SHOTS, System, post_webhooks
from tests.browser.test_pages import _order_with_weather_delay

pytestmark = pytest.mark.browser

LIVE_S = 15_000  # ms: an action → broker → timeline → Redis → websocket → page
#: new orders to their exceptions in the queue, on a stack that may have just started
QUEUED_S = 90


def token(sub: str, *roles: str) -> str:
    claims = {"sub": sub, "roles": list(roles), "exp": datetime.now(UTC) + timedelta(hours=1)}
    return jwt.encode(claims, AGENT_SECRET, algorithm="HS256")


@contextmanager
def console(browser: Any, system: System, who: str, name: str) -> Iterator[Any]:
    """A console in its own browser context (its own session storage: its own agent)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{system.base}/console?token={who}")
    page.wait_for_selector("#live.on")
    try:
        yield page
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"console-work-{name}.png"), full_page=True)
        context.close()
    assert not errors, f"script errors in {name}'s console: {errors}"


def queued(system: System, who: str, order_ids: list[str]) -> dict[str, str]:
    """order id → its exception id, once every order's exception is in the queue."""
    deadline = time.monotonic() + QUEUED_S
    while time.monotonic() < deadline:
        status, body = system.request("GET", "/v1/agent/exceptions?limit=1000", token=who)
        assert status == 200, body
        found = {r["order_id"]: r["exception_id"] for r in body["exceptions"]}
        if all(o in found for o in order_ids):
            return {o: found[o] for o in order_ids}
        time.sleep(0.3)
    pytest.fail(f"the orders' exceptions never reached the queue\n{system.log_tail()}")


def test_two_consoles_work_exceptions_together(browser: Any, system: System) -> None:
    alice, bob = token("agent-a", "agent"), token("agent-b", "agent")
    sue = token("sup-1", "supervisor")
    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    # the tag's first ten characters make the tracking number: one parcel each
    first, posts = _order_with_weather_delay(f"1{stamp}")
    second, more = _order_with_weather_delay(f"2{stamp}")
    post_webhooks(system, posts + more)
    exceptions = queued(system, alice, [first, second])
    one, two = exceptions[first], exceptions[second]
    row = 'tr[data-exception="{}"]'.format

    with console(browser, system, alice, "alice") as a, console(browser, system, bob, "bob") as b:
        for page in (a, b):
            page.locator(row(one)).wait_for(timeout=LIVE_S)
        # a plain agent sees no supervisor control
        assert a.locator("#team-link").is_hidden()
        assert a.locator('button[data-action="assign-to"]').count() == 0
        b.evaluate("window.__sameDocument = true")
        assert b.locator(f"{row(one)} td.assignee").inner_text() == "unassigned"

        # alice takes it; bob's console shows it taken, without reloading, and cannot take it
        a.locator(row(one)).get_by_role("button", name="Take").click()
        a.locator(f'{row(one)} td.assignee[data-assignee="agent-a"]').wait_for(timeout=LIVE_S)
        b.locator(f'{row(one)} td.assignee[data-assignee="agent-a"]').wait_for(timeout=LIVE_S)
        assert b.evaluate("window.__sameDocument") is True
        assert b.locator(row(one)).get_by_role("button", name="Take").count() == 0
        a.get_by_label("Showing").select_option("mine")
        assert a.locator("#queue-table tbody tr").count() == 1
        a.get_by_label("Showing").select_option("all")

        # she escalates it: bob sees the escalation live
        a.locator(row(one)).get_by_role("button", name="Escalate").click()
        a.locator("#escalate-dialog").get_by_label("Reason").fill(
            "the customer needs it for Saturday"
        )
        a.locator("#escalate-dialog").get_by_role("button", name="Escalate").click()
        b.locator(f"{row(one)} .pill.escalated").wait_for(timeout=LIVE_S)
        b.get_by_label("Showing").select_option("escalated")
        assert b.locator(f"{row(one)}").is_visible()
        b.get_by_label("Showing").select_option("all")

        # both open the order; alice's note shows in bob's history as it is written
        for page in (a, b):
            page.locator(row(one)).get_by_role("link").click()
            page.locator(f'[data-exception-work="{one}"]').wait_for(timeout=LIVE_S)
        a.get_by_label("Add a note on this exception").fill("UPS promises Friday")
        a.locator(f'[data-note-form="{one}"]').get_by_role("button", name="Add note").click()
        note = b.locator("#order-notes li", has_text="UPS promises Friday")
        note.wait_for(timeout=LIVE_S)
        assert "agent-a" in note.inner_text()
        escalation = b.locator("#order-notes li[data-action=escalate]")
        assert "the customer needs it for Saturday" in escalation.inner_text()

        # notify the customer from a template
        a.get_by_label("Message template").select_option("agent_update")
        a.get_by_label("Your words (where the template has room)").fill("Friday it is.")
        a.get_by_role("button", name="Send to the customer").click()
        a.locator("ul.messages li", has_text="Friday it is.").wait_for(timeout=LIVE_S)

        # the supervisor's team queue lists it with its assignee and age
        with console(browser, system, sue, "sue") as s:
            s.locator("#team-link").click()
            line = s.locator(f"#team-table {row(one)}")
            line.wait_for(timeout=LIVE_S)
            assert "agent-a" in line.locator("td.assignee").inner_text()
            assert line.locator("td").first.inner_text().endswith(("min", "h", "d"))
            counts = s.locator('#team-counts tr[data-assignee="agent-a"]').inner_text()
            assert "1" in counts
            s.get_by_label("Sort by").select_option("assignee")
            s.locator("#team-table caption", has_text="By assignee").wait_for()
            assert "agent-a" in line.locator("td.assignee").inner_text()

        # back in the queue, bob resolves both at once; alice's queue loses them live
        b.evaluate("location.hash = '#/queue'")
        for exception_id in (one, two):
            b.locator(f"{row(exception_id)} td.select input").check()
        b.get_by_role("button", name="Resolve selected").click()
        a.evaluate("location.hash = '#/queue'")
        for exception_id in (one, two):
            for page in (a, b):
                page.locator(f"#queue-table {row(exception_id)}").wait_for(
                    state="detached", timeout=LIVE_S
                )
    status, detail = system.request("GET", f"/v1/agent/orders/{first}", token=sue)
    assert status == 200
    (resolved,) = [e for e in detail["timeline"]["exceptions"] if e["exception_id"] == one]
    assert (resolved["state"], resolved["resolved_by"], resolved["assignee"]) == (
        "resolved",
        "agent-b",
        "agent-a",
    )
