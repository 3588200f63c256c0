"""Self-service through the whole of ``wismo up``: an agent's message to the customer reaches the
development outbox as one e-mail (and one text) to the customer and is listed in the order's
notifications; taking an exception reaches the integrator's webhook as ``exception.assigned``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from projections.notify.subscriptions import mask_recipient
from tests.browser.conftest import DEMO_EMAIL, DEMO_ORDER, System
from wismo.i18n import translations

pytestmark = pytest.mark.browser

WITHIN_S = 60.0


def _outbox(system: System, kind: str, found: Any) -> list[dict[str, Any]]:
    """The outbox items of ``kind`` that ``found`` accepts, waiting for at least one."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        status, answer = system.request("GET", "/v1/dev/outbox?limit=500")
        assert status == 200, answer
        items = [i for i in answer["items"] if i["kind"] == kind and found(i)]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(1.0)


def _order_id(system: System) -> str:
    status, found = system.request(
        "POST", "/v1/lookup", {"order_number": DEMO_ORDER, "email": DEMO_EMAIL}
    )
    assert status == 200, found
    return str(found["order_id"])


def _subscribed_emails(system: System) -> set[str]:
    """The demo order's subscribed e-mail addresses, masked as the customer API shows them."""
    status, found = system.request(
        "POST", "/v1/lookup", {"order_number": DEMO_ORDER, "email": DEMO_EMAIL}
    )
    assert status == 200, found
    status, state = system.request(
        "GET", f"/v1/orders/{found['order_id']}/notifications", token=found["token"]
    )
    assert status == 200, state
    return {
        r["address"] for r in state["recipients"] if r["channel"] == "email" and r["subscribed"]
    }


def test_an_agents_message_reaches_the_customer_once(system: System) -> None:
    token = system.agent_token()
    order_id = _order_id(system)
    words = f"Your replacement leaves today ({uuid.uuid4().hex[:8]})."
    body = {"template": "agent_update", "text": words}
    for _ in range(2):  # a double click: one event, one e-mail
        status, answer = system.request(
            "POST", f"/v1/agent/orders/{order_id}/messages", body, token=token
        )
        assert status in (200, 202), answer
    mails = _outbox(system, "email", lambda i: words in (i.get("text") or ""))
    assert mails, f"the message did not reach the outbox\n{system.log_tail()}"
    # once to each address the order's customer has subscribed (other tests of the session
    # may have turned the demo address off and subscribed another)
    recipients = [m["to"] for m in mails if not m["duplicate"]]
    assert len(recipients) == len(set(recipients)), recipients
    assert {mask_recipient("email", to) for to in recipients} == _subscribed_emails(system)
    # in the order's own language (the demo orders have their locales)
    lang = (mails[0].get("headers") or {}).get("Content-Language", "en")
    subject = translations("messages", lang).gettext("News about your order %(order_number)s")
    assert mails[0]["subject"] == subject % {"order_number": DEMO_ORDER}
    status, listed = system.request(
        "GET", f"/v1/agent/orders/{order_id}/notifications", token=token
    )
    assert status == 200, listed
    sent = [n for n in listed["notifications"] if n["kind"] == "agent_update"]
    # wismo up texts orders that give a phone number, and its quiet hours are off in the tests
    # an address the customer turned off is listed as suppressed, never sent
    assert {n["channel"] for n in sent if n["state"] == "sent"} == {"email", "sms"}
    assert {n["state"] for n in sent} <= {"sent", "suppressed"}
    assert _outbox(system, "sms", lambda i: words in (i.get("text") or ""))


def test_taking_an_exception_is_an_integrator_event(system: System) -> None:
    token = system.agent_token()
    deadline = time.monotonic() + WITHIN_S
    rows: list[dict[str, Any]] = []
    while not rows and time.monotonic() < deadline:
        status, queue = system.request("GET", "/v1/agent/exceptions", token=token)
        assert status == 200, queue
        rows = [e for e in queue["exceptions"] if not e.get("assignee")]
        time.sleep(0 if rows else 1.0)
    assert rows, "no unassigned exception in the simulated orders"
    exception = rows[0]
    status, answer = system.request(
        "POST",
        f"/v1/agent/exceptions/{exception['exception_id']}/assign",
        {"assignee": "me", "order_id": exception["order_id"]},
        token=token,
    )
    assert status in (200, 202), answer

    def assigned(item: dict[str, Any]) -> bool:
        if item.get("subject") != "exception.assigned":
            return False
        data = json.loads(item["body"])["data"]
        return bool(data["exception"]["exception_id"] == exception["exception_id"])

    hooks = _outbox(system, "webhook", assigned)
    assert hooks, f"no exception.assigned webhook\n{system.log_tail()}"
    data = json.loads(hooks[0]["body"])["data"]
    assert data["order_id"] == exception["order_id"]
    assert data["exception"]["assignee"] == "browser-test"
    assert hooks[0]["verified"] is True
