"""The SLA page's agent-response panel against a running ``wismo up``: an agent acknowledges an
exception in the console's API, the warehouse writes who did it, and the page shows the agent
with their time to acknowledge."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from tests.browser.conftest import System

pytestmark = pytest.mark.browser

AGENT = "browser-test"  # the subject of System.agent_token


def _open_exception(system: System, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, body = system.request("GET", "/v1/agent/exceptions", token=token)
        assert status == 200, body
        found: list[dict[str, Any]] = [
            e for e in body["exceptions"] if e["state"] == "open" and e.get("opened_at")
        ]
        if found:
            return found[0]
        time.sleep(1)
    pytest.fail(f"no open exception in the simulated orders\n{system.log_tail()}")


def test_the_sla_page_shows_each_agents_response_times(page: Any, system: System) -> None:
    token = system.agent_token()
    exception = _open_exception(system, token)
    status, body = system.request(
        "POST",
        f"/v1/agent/exceptions/{exception['exception_id']}/acknowledge",
        {"order_id": exception["order_id"], "note": "looking into it"},
        token=token,
    )
    assert status in (200, 202), body
    day = datetime.fromisoformat(exception["opened_at"]).date().isoformat()
    query = f"/v1/analytics/sla?from={day}&to={day}&section=agent_response"

    def agent_row() -> dict[str, Any] | None:
        status, report = system.request("GET", query, token=token)
        assert status == 200, report
        rows = [r for r in report["agent_response"] if r["agent"] == AGENT]
        return rows[0] if rows else None

    deadline = time.monotonic() + 60
    while agent_row() is None and time.monotonic() < deadline:
        time.sleep(1)
    row = agent_row()
    assert row is not None, "the acknowledgement did not reach ClickHouse"
    assert row["acknowledged"] >= 1
    assert row["resolved_automatically"] == 0

    page.goto(f"{system.base}/analytics?from={day}&to={day}")
    page.get_by_label("Agent token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    table = page.locator("#agent-table")
    table.wait_for(timeout=20_000)
    cells = table.locator("tr", has_text=AGENT).locator("td").all_inner_texts()
    assert cells[0] == AGENT
    assert int(cells[2]) == row["acknowledged"]
    assert "min" in cells[5] or " h" in cells[5]
    facts = page.locator('#agent-facts [data-kpi="time_to_acknowledge"]').inner_text()
    assert "—" not in facts.split("/")[0]
