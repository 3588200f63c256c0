"""``wismo up`` on its own: the simulated orders reach the development outbox as e-mails, texts
and webhook deliveries, each exactly once.

"The same message" twice is either the same identity twice — the e-mail's ``Message-ID``, the
SMS idempotency token, the ``webhook-id``: a sink flags such a repeat ``duplicate`` — or the
same meaning under two identities: one (order, milestone or exception, channel, recipient), as
the ledger planned it (each item's ``planned``), sent under two message ids, or one webhook body
delivered to one receiver under two ``webhook-id`` values.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import pytest

from bench.simulate import ORDER_ID
from projections.notify.outbox import CAP, KINDS
from tests.browser.conftest import System

pytestmark = pytest.mark.browser

#: how long the simulated orders may take to cause one message of each kind
WITHIN_S = 90.0
#: what the simulated orders' ids begin with (``SIM<seed>-<index>``)
SIMULATED = ORDER_ID.partition("{")[0]

Item = dict[str, Any]


def kept(system: System, kind: str) -> list[Item]:
    """Every item of ``kind`` the outbox keeps (its newest :data:`CAP`), newest first."""
    status, found = system.request("GET", f"/v1/dev/outbox?limit={CAP}&kind={kind}")
    assert status == 200, found
    assert all(item["kind"] == kind for item in found["items"])
    return list(found["items"])


def simulated(item: Item) -> bool:
    return str((item.get("planned") or {}).get("order_id") or "").startswith(SIMULATED)


def shown(item: Item) -> str:
    fields = ("kind", "message_id", "to", "subject", "received_at", "duplicate", "planned")
    return json.dumps({name: item.get(name) for name in fields})


def more_than_once(items: Iterable[Item], same: Callable[[Item], Hashable]) -> list[str]:
    """The groups of items that ``same`` calls one message but that carry two message ids."""
    ids: dict[Hashable, dict[str, Item]] = defaultdict(dict)
    for item in items:
        ids[same(item)].setdefault(str(item["message_id"]), item)
    return [
        f"{key}:\n  " + "\n  ".join(shown(item) for item in found.values())
        for key, found in ids.items()
        if len(found) > 1
    ]


def test_the_simulated_orders_send_emails_texts_and_webhooks_each_once(system: System) -> None:
    outbox: dict[str, list[Item]] = {}
    deadline = time.monotonic() + WITHIN_S
    while True:
        assert system.process.poll() is None, f"wismo up exited:\n{system.log_tail()}"
        outbox = {kind: kept(system, kind) for kind in KINDS}
        if all(any(simulated(item) for item in outbox[kind]) for kind in KINDS):
            break
        counts = {kind: len(items) for kind, items in outbox.items()}
        assert time.monotonic() < deadline, (
            f"not one e-mail, text and webhook delivery from the simulated orders within "
            f"{WITHIN_S:.0f}s (outbox: {counts})\n{system.log_tail()}"
        )
        time.sleep(2.0)
    items = [item for kind in KINDS for item in outbox[kind]]

    # every message says who it is and what the ledger planned under that id
    nameless = [shown(item) for item in items if not item.get("message_id")]
    assert not nameless, "messages without a message id:\n" + "\n".join(nameless)
    unplanned = [shown(item) for item in items if not item.get("planned")]
    assert not unplanned, "messages the ledger never planned:\n" + "\n".join(unplanned)
    for item in items:
        planned = item["planned"]
        assert planned["channel"] == item["kind"], shown(item)
        if item["kind"] != "webhook":  # a webhook is planned for a subscription, not a URL
            assert planned["recipient"].casefold() == item["to"].casefold(), shown(item)

    # the same identity once: no sink saw a message id again, nor does the outbox hold one twice
    repeats = [shown(item) for item in items if item["duplicate"]]
    assert not repeats, "messages received again under the same id:\n" + "\n".join(repeats)
    identities = [(item["kind"], item["message_id"]) for item in items]
    assert len(identities) == len(set(identities))

    # the same meaning once: one milestone to one recipient over one channel has one id ...
    def meaning(item: Item) -> Hashable:
        planned = item["planned"]
        recipient = planned["recipient"].strip().casefold()
        return (planned["order_id"], planned["milestone"], item["kind"], recipient)

    twice = more_than_once(items, meaning)
    assert not twice, "one milestone sent to one recipient under two ids:\n" + "\n".join(twice)
    # ... and one webhook body reaches one receiver under one webhook-id
    hooks = outbox["webhook"]
    twice = more_than_once(hooks, lambda item: (item["to"], item["body"]))
    assert not twice, "one webhook body delivered under two ids:\n" + "\n".join(twice)
