"""kill -9 of a dispatcher mid-batch: every planned message is delivered, and none twice except
those whose attempt was in flight at the kill (state ``sending``) — re-sent under the same id
(``webhook-id``, ``Message-ID``), which the receiver deduplicates.

The dispatcher alone runs in a subprocess (``dispatch_worker.py``: no broker, no planning, the
messages committed to the ledger by the test) against a real Redis, a real local webhook
receiver and a real SMTP server (aiosmtpd), both slowed down so that sends are in flight when
the first process is killed; a second process finishes the work. Being small and quick (a few
seconds, not ``slow``), it pins down the in-flight ``sending`` state exactly: the kill is
checked to catch sends in flight and queued messages, and the repeats to be among the first.
``test_workers_broker.py`` kills a whole ``notify`` worker — Kafka consumers, planning and
dispatcher — the same way, and rebalances two of them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP

from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import Message, MessageState
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.senders import message_id_header, sender_domain
from tests.projections.conftest import REDIS_URL
from tests.streams.notify.harness import (
    SECRET,
    Receiver,
    Sink,
    email_message,
    webhook_message,
)
from wismo.settings import NotifySettings

ROOT = Path(__file__).parents[3]


def start_worker(prefix: str, settings: NotifySettings) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.streams.notify.dispatch_worker", REDIS_URL, prefix,
         settings.model_dump_json()],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


async def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = await asyncio.to_thread(process.stdout.readline)
    assert line.strip() == "ready", f"worker did not start: {line!r}"


async def states(ledger: Ledger, messages: list[Message]) -> dict[str, MessageState]:
    found: dict[str, MessageState] = {}
    for message in messages:
        entry = await ledger.get(message.message_id)
        assert entry is not None
        found[message.message_id] = entry.state
    return found


async def test_kill_9_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(
    redis: tuple[aioredis.Redis, str],
) -> None:
    client, prefix = redis
    ledger = Ledger(client, prefix)
    subscriptions = SubscriptionStore(client, prefix)
    receiver = await Receiver(delay_s=0.04).start()
    sink = Sink(delay_s=0.04)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(sink, hostname="sink", loop=loop), "127.0.0.1", 0)
    port = smtp.sockets[0].getsockname()[1]
    settings = NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_connections=2,
        endpoint_concurrency=2,
        batch=12,
        lease_s=1.0,
        retry_base_s=0.05,
        retry_cap_s=0.2,
        request_timeout_s=0.8,
    )
    workers: list[subprocess.Popen[str]] = []
    try:
        now = datetime.now(UTC)
        subs = [
            await subscriptions.create(receiver.url, ["*"], secrets=[SECRET], now=now)
            for _ in range(2)
        ]
        messages: list[Message] = []
        for i in range(15):
            order = f"O{i}"
            messages += [webhook_message(sub.id, order, v, now=now) for sub in subs for v in (1, 2)]
            messages.append(email_message(order, "shipped", now=now))
        for message in messages:
            await ledger.commit_plan(message.order_id, SimplePlan([message]), now)

        def delivered() -> int:
            return receiver.requests + sum(sink.seen.values())

        workers.append(start_worker(prefix, settings))
        await wait_ready(workers[0])
        ends = time.monotonic() + 20
        while delivered() < 20:
            assert time.monotonic() < ends, "the first worker sent too little"
            await asyncio.sleep(0.005)
        workers[0].send_signal(signal.SIGKILL)
        await asyncio.to_thread(workers[0].wait)
        at_kill = await states(ledger, messages)
        in_flight = {i for i, state in at_kill.items() if state is MessageState.SENDING}
        assert in_flight, "the kill should catch sends in flight"
        assert any(state is MessageState.QUEUED for state in at_kill.values())

        workers.append(start_worker(prefix, settings))
        await wait_ready(workers[1])
        ends = time.monotonic() + 20
        while set((await states(ledger, messages)).values()) != {MessageState.SENT}:
            assert time.monotonic() < ends, "the second worker did not finish"
            await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()
        smtp.close()
        await smtp.wait_closed()
        await receiver.stop()

    domain = sender_domain(settings.sender)
    counts: dict[str, int] = {}
    for message in messages:
        if message.channel.value == "webhook":
            counts[message.message_id] = receiver.accepted.count(message.message_id)
        else:
            counts[message.message_id] = sink.seen[message_id_header(message.message_id, domain)]
    assert all(count >= 1 for count in counts.values()), "a planned message was lost"
    repeated = {i for i, count in counts.items() if count > 1}
    assert repeated <= in_flight, "only a send in flight at the kill may be repeated"
    assert all(counts[i] <= 2 for i in repeated)
    # the receiver deduplicates by id: exactly the planned messages, each once
    assert set(receiver.accepted) | {
        m.message_id for m in messages if m.channel.value == "email"
    } == set(counts)
