"""`wismo up` heals its dropped webhooks by polling, and says so: it drops a share of the simulated
UPS webhooks on purpose, the poll role asks the simulated carrier about the parcels, and `wismo
up` reports each dropped scan's fate on the simulated carrier (``GET /simulation/drops``, the URL
under ``carrier`` in its banner) and on the terminal. A healed scan's order holds the milestone
the simulator dropped. HTTP only, against the session's stack."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import datetime
from typing import Any

import pytest

from tests.browser.conftest import System

pytestmark = pytest.mark.browser

#: the dropped scan's parcel is first polled within the demo cadence (30 s) of its order's
#: scans, which the traffic sends in its first seconds; then the answer crosses the stream
HEALED_S = 120.0
#: the terminal line follows the report by a moment
SAID_S = 15.0
_CARRIER = re.compile(r"^\s+carrier\s+(http://\S+)", re.MULTILINE)


def _drops(carrier: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{carrier}/simulation/drops", timeout=5) as response:
        report: dict[str, Any] = json.loads(response.read())
    return report


def _healed(carrier: str) -> list[dict[str, Any]]:
    return [d for d in _drops(carrier)["drops"] if d["fate"] == "healed"]


def _until(found: Any, within_s: float, what: str, system: System) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        if system.process.poll() is not None:
            pytest.fail(f"wismo up exited with {system.process.returncode}\n{system.log_tail()}")
        if value := found():
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {within_s:.0f} s\n{system.log_tail()}")
        time.sleep(2)


def test_a_dropped_webhook_is_healed_by_polling(system: System) -> None:
    banner = _CARRIER.search(system.log.read_text(errors="replace"))
    assert banner, f"no simulated carrier in the banner\n{system.log_tail()}"
    carrier = banner.group(1)
    drop = _until(lambda: _healed(carrier), HEALED_S, "a healed dropped webhook", system)[0]
    report = _drops(carrier)
    assert report["dropped"] >= report["healed"] >= 1
    assert report["dropped"] == report["healed"] + report["otherwise"] + report["waiting"]

    # the order's timeline holds the scan the simulator never sent
    who = system.agent_token(("viewer",))
    status, detail = system.request("GET", f"/v1/agent/orders/{drop['order_id']}", token=who)
    assert status == 200, detail
    event = {e["event_id"]: e for e in detail["events"]}.get(drop["event_id"])
    assert event is not None, (drop, [e["event_id"] for e in detail["events"]])
    assert event["kind"] == "tracking.checkpoint"
    assert event["tracking_number"] == drop["tracking_number"]
    assert event["payload"]["status"] == drop["status"]
    instant = datetime.fromisoformat
    assert instant(event["occurred_at"]) == instant(drop["occurred_at"])
    assert instant(event["received_at"]) == instant(drop["arrived_at"])  # when it was polled
    assert event["raw_ref"]
    # and its parcel's journey shows it
    checkpoints = [
        c
        for s in detail["timeline"]["shipments"]
        for c in s.get("checkpoints", [])
        if c["event_id"] == drop["event_id"]
    ]
    assert [c["status"] for c in checkpoints] == [drop["status"]]

    # the poll role has the parcel on its books: polled, with what it found
    status, poll = system.request(
        "GET", f"/v1/agent/parcels/{drop['tracking_number']}/poll", token=who
    )
    assert status == 200, poll
    assert poll["last_polled_at"] is not None
    assert instant(poll["last_polled_at"]) >= instant(drop["arrived_at"])

    # and the terminal says it, with the tally
    said = f"healed     order {drop['order_id']} parcel {drop['tracking_number']}:"
    line = _until(
        lambda: next((ln for ln in system.log.read_text().splitlines() if said in ln), None),
        SAID_S,
        "the terminal line of the healed scan",
        system,
    )
    assert re.search(r"\(\d+ dropped, [1-9]\d* healed by polling", line), line
