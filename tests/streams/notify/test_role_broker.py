"""The ``notify`` role in a real worker (``wismo run --roles timeline,notify``) on the embedded
broker: the example order's events go in; webhooks reach a local aiohttp receiver and e-mails a
local SMTP server (aiosmtpd), each once; every message ends final in the ledger and its outcome
record is on the notifications topic.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from projections.connections import redis_client
from projections.notify.ledger import Entry, Ledger
from projections.notify.model import MessageState, NotifyChannel
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.records import decode_record
from tests.projections.notify.journeys import example_events
from tests.streams.harness import WorkerProcess, embedded_stack, wait_until
from tests.streams.notify.harness import SECRET, Receiver
from tests.streams.test_sweeper_broker import send
from wismo.settings import Settings
from wismo.topics import NOTIFICATIONS

pytestmark = pytest.mark.slow


class Sink:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.seen[str(parsed["Message-ID"])] += 1
        return "250 Message accepted"


class Servers:
    """The receiver and the SMTP server, on an event loop of their own in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.receiver = Receiver()
        self.sink = Sink()
        self.smtp_port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Servers:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        await self.receiver.start()
        loop = asyncio.get_running_loop()
        self.smtp = await loop.create_server(
            lambda: SMTP(self.sink, hostname="sink", loop=loop), "127.0.0.1", 0
        )
        self.smtp_port = self.smtp.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self.smtp.close()
        await self.smtp.wait_closed()
        await self.receiver.stop()

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def servers() -> Iterator[Servers]:
    with Servers() as running:
        yield running


async def subscribe(settings: Settings, url: str) -> None:
    client = await redis_client(settings)
    try:
        store = SubscriptionStore(client, settings.redis.key_prefix)
        await store.create(url, ["*"], secrets=[SECRET], now=datetime.now(UTC))
    finally:
        await client.aclose()


async def ledger_entries(settings: Settings, order_id: str) -> list[Entry]:
    client = await redis_client(settings)
    try:
        return await Ledger(client, settings.redis.key_prefix).for_order(order_id, 500)
    finally:
        await client.aclose()


async def records(settings: Settings, wanted: int) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(NOTIFICATIONS),
        bootstrap_servers=settings.kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        ends = asyncio.get_running_loop().time() + 30
        while len(found) < wanted and asyncio.get_running_loop().time() < ends:
            batch = await consumer.getmany(timeout_ms=500)
            found += [m.value for messages in batch.values() for m in messages if m.value]
    finally:
        await consumer.stop()
    return found


def test_the_example_order_notifies_each_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    monkeypatch.setenv("WISMO_NOTIFY__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("WISMO_NOTIFY__SMTP_PORT", str(servers.smtp_port))
    monkeypatch.setenv("WISMO_NOTIFY__QUIET_START_HOUR", "0")  # no quiet hours: send now
    monkeypatch.setenv("WISMO_NOTIFY__QUIET_END_HOUR", "0")
    monkeypatch.setenv("WISMO_NOTIFY__STALE_AFTER_S", "0")  # the example order is from March
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
            found = [decode_record(value) for value in asyncio.run(records(settings, wanted))]
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
