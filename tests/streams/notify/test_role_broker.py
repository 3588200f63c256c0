"""The ``notify`` role in a real worker (``wismo run --roles timeline,notify``) on the embedded
broker: the example order's events go in; webhooks reach a local aiohttp receiver and e-mails a
local SMTP server (aiosmtpd), each once; every message ends final in the ledger and its outcome
record is on the notifications topic.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from projections.connections import redis_client
from projections.notify.ledger import Entry, Ledger
from projections.notify.model import MessageState, NotifyChannel
from streams.notify.records import decode_record
from tests.projections.notify.journeys import example_events
from tests.streams.harness import WorkerProcess, embedded_stack, wait_until
from tests.streams.notify.harness import Servers, notify_environment, records, subscribe
from tests.streams.test_sweeper_broker import send
from wismo.settings import Settings

pytestmark = pytest.mark.slow


async def ledger_entries(settings: Settings, order_id: str) -> list[Entry]:
    client = await redis_client(settings)
    try:
        return await Ledger(client, settings.redis.key_prefix).for_order(order_id, 500)
    finally:
        await client.aclose()


def test_the_example_order_notifies_each_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    notify_environment(monkeypatch, servers)
    with embedded_stack(tmp_path, partitions=2) as settings:
        asyncio.run(subscribe(settings, servers.receiver.url))
        worker = WorkerProcess(settings, "timeline,notify", tmp_path).start()
        try:
            asyncio.run(send(settings, example_events()))

            def settled() -> bool:
                entries = asyncio.run(ledger_entries(settings, "ORD-1001"))
                sent = {e.message.channel for e in entries if e.state is MessageState.SENT}
                return {NotifyChannel.EMAIL, NotifyChannel.WEBHOOK} <= sent and all(
                    e.final for e in entries
                )

            assert wait_until(settled, 90, workers=(worker,)), worker.log_tail()
            entries = asyncio.run(ledger_entries(settings, "ORD-1001"))
            sent = [e for e in entries if e.state is MessageState.SENT]
            wanted = len([e for e in entries if e.state is not MessageState.QUEUED])
            values = asyncio.run(records(settings, lambda found: len(found) >= wanted))
            found = [decode_record(value) for value in values]
        finally:
            worker.stop()

    receiver, sink = servers.receiver, servers.sink
    webhooks = {e.message_id for e in sent if e.message.channel is NotifyChannel.WEBHOOK}
    assert set(receiver.accepted) == webhooks
    assert max(receiver.seen.values()) == 1  # a clean run sends nothing twice
    emails = [e for e in sent if e.message.channel is NotifyChannel.EMAIL]
    assert len(sink.seen) == len(emails)
    assert max(sink.seen.values()) == 1
    by_id = {(r.message_id, r.state) for r in found}
    assert {(e.message_id, e.state) for e in entries} <= by_id
