"""`wismo up` on its own: with no model yet it trains one in the background from a simulated
history, and the running sweeper soon puts wismo's estimates on the parcels of the live orders
(docs/prediction.md, "In `wismo up`"). Read through the agent API of the session's stack."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import System
from tests.browser.test_console_work import token

pytestmark = pytest.mark.browser

#: training (a few seconds), the sweeper's look for the model (every 15 s), a parcel's next
#: change or clock tick — on a loaded machine
WITHIN_S = 240
#: the demo orders `wismo up --demo-orders 16` numbers from 100000
DEMO_NUMBERS = [str(100000 + n) for n in range(16)]


def _estimated(system: System, who: str) -> list[dict[str, Any]]:
    """The parcels of the demo orders that carry wismo's estimate."""
    found: list[dict[str, Any]] = []
    for number in DEMO_NUMBERS:
        status, body = system.request("GET", f"/v1/agent/search?q={number}", token=who)
        assert status == 200, body
        for result in body["results"]:
            status, detail = system.request(
                "GET", f"/v1/agent/orders/{result['order_id']}", token=who
            )
            assert status == 200, detail
            found += [s for s in detail["timeline"]["shipments"] if s.get("prediction")]
    return found


def test_wismo_up_puts_estimates_on_live_parcels(system: System) -> None:
    who = token("agent-estimates", "agent")
    deadline = time.monotonic() + WITHIN_S
    while not (parcels := _estimated(system, who)):
        if time.monotonic() > deadline:
            pytest.fail(f"no parcel got wismo's estimate in {WITHIN_S} s\n{system.log_tail()}")
        time.sleep(5)
    prediction = parcels[0]["prediction"]
    assert prediction["model_version"]
    assert prediction["p_late"] is None or 0 <= prediction["p_late"] <= 1
    assert prediction["window_start"] <= prediction["window_end"]
