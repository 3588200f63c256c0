"""Cancel requests resolve by themselves in ``wismo up``: the customer asks (the API of
/track), wismo tells the OMS with a signed ``cancel.requested`` webhook, the simulated OMS
(:mod:`bench.oms`) answers on the ``oms`` source a few seconds later — confirmed for a line it
can still stop, rejected for one that went into fulfilment meanwhile."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from bench.webhooks import Post
from tests.browser.conftest import System, post_webhooks

pytestmark = pytest.mark.browser

EMAIL = "oms-answers@example.com"
WITHIN_S = 40.0


def _until(check: Any, what: str, system: System) -> Any:
    deadline = time.monotonic() + WITHIN_S
    while time.monotonic() < deadline:
        try:
            if found := check():
                return found
        except AssertionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} not within {WITHIN_S:.0f}s\n{system.log_tail()}")


def test_the_simulated_oms_confirms_or_rejects_cancel_requests(system: System) -> None:
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    order_id, number = f"OMSSIM-{tag}", f"Q{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    placed = {
        "event_id": f"oms:{order_id}:placed",
        "kind": "order.placed",
        "order_id": order_id,
        "occurred_at": (now - timedelta(hours=2)).isoformat(),
        "payload": {
            "order_number": number,
            "customer_email": EMAIL,
            "lines": [
                {"line_id": "L1", "name": "Lamp", "quantity": 1},
                {"line_id": "L2", "name": "Rug", "quantity": 1},
            ],
        },
    }
    post_webhooks(system, [Post("oms", orjson.dumps(placed), f"omssim-{tag}-placed", 0)])
    _until(
        lambda: system.customer_view(number, EMAIL)["actions"]["cancellable"],
        "a cancellable order",
        system,
    )
    status, found = system.request("POST", "/v1/lookup", {"order_number": number, "email": EMAIL})
    assert status == 200, found
    token = found["token"]

    def ask(line: str) -> str:
        body = {"lines": [{"line_id": line, "quantity": 1}], "reason": "changed my mind"}
        status, answer = system.request(
            "POST", f"/v1/orders/{order_id}/cancellations", body, token=token
        )
        assert status in (200, 202), answer
        return str(answer["request_id"])

    kept = ask("L1")
    shipped_meanwhile = ask("L2")
    fulfilment = {
        "event_id": f"wms:{order_id}:fo",
        "kind": "fulfilment.created",
        "order_id": order_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {
            "fulfilment_order_id": f"FO-{tag}",
            "lines": [{"line_id": "L2", "quantity": 1}],
        },
    }
    post_webhooks(system, [Post("wms", orjson.dumps(fulfilment), f"omssim-{tag}-fo", 0)])

    def decided() -> dict[str, Any] | None:
        requests = {
            r["request_id"]: r for r in system.customer_view(number, EMAIL)["cancel_requests"]
        }
        done = all(
            requests.get(r, {}).get("status") in ("confirmed", "rejected")
            for r in (kept, shipped_meanwhile)
        )
        return requests if done else None

    requests = _until(decided, "the OMS's answers on the order", system)
    assert requests[kept]["status"] == "confirmed"
    assert requests[shipped_meanwhile]["status"] == "rejected"
    assert "L2" in (requests[shipped_meanwhile]["note"] or "")
