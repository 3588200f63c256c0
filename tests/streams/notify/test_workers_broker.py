"""Exactly once through real ``notify`` workers — ``wismo run --roles notify`` processes with
their Kafka consumers — on the embedded broker, a ``timeline`` worker beside them: copies of the
example order go in, phase after phase (``traffic.py`` says why and what each phase must
deliver), webhooks to two subscriptions reach a local aiohttp receiver and e-mails an aiosmtpd
server.

1. **kill -9 mid-batch.** The notify worker is SIGKILLed while a phase is being sent — some of
   its messages received, some in flight, some still queued — and a new one is started: every
   message the input calls for arrives, nothing else does, and the only ones that arrive twice
   were in flight at the kill (state ``sending``), under the same ``webhook-id`` /
   ``Message-ID``.
2. **A rebalance.** Two notify workers in one consumer group over 4 partitions: the second
   joins while orders trickle in; both then plan timeline changes (their ``/metrics``) from
   partitions of their own; the first is stopped (SIGTERM) while a phase trickles in and its
   messages are being sent, and the second takes its partitions over. Every message arrives
   exactly once: a worker that stops, unlike one that dies, finishes its sends in flight.

Either way the ledger ends holding exactly the planned messages, each final, and every outcome
record is on the notifications topic. The receivers are slowed down for the phase the fault
hits, so that sends are in flight; lease and timeouts are short, so that what a dead worker held
comes back within the test.
"""

from __future__ import annotations

import asyncio
import functools
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.runtime.roles import group_id
from projections.notify.model import MessageState, NotifyChannel
from tests.streams.harness import WorkerProcess, embedded_stack, wait_until
from tests.streams.notify.harness import Servers, notify_environment
from tests.streams.notify.traffic import Traffic
from wismo.settings import Settings

pytestmark = pytest.mark.slow

ORDERS = 16
HOOKS = 2  # webhook subscriptions
PARTITIONS = 4
#: the phase the fault hits (each order's events 14-17: an e-mail and eight webhooks)
FAULT_PHASE = 4
#: while it runs, each webhook and each e-mail takes this long to be answered
SLOW_WEBHOOK_S, SLOW_EMAIL_S = 0.1, 0.3
#: the pause between two orders' events while they trickle in
TRICKLE_S = 0.2
#: a phase has settled within this (the first waits for the workers to join their groups)
SETTLE_S = 45.0


def fast_notify(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> None:
    notify_environment(monkeypatch, servers)
    # a dead worker's messages come back within seconds; no send outlives its lease
    monkeypatch.setenv("WISMO_NOTIFY__LEASE_S", "3")
    monkeypatch.setenv("WISMO_NOTIFY__REQUEST_TIMEOUT_S", "2")
    monkeypatch.setenv("WISMO_NOTIFY__RETRY_BASE_S", "0.2")
    monkeypatch.setenv("WISMO_NOTIFY__RETRY_CAP_S", "1")


def settle(traffic: Traffic, index: int, workers: tuple[WorkerProcess, ...]) -> None:
    settled = functools.partial(traffic.settled, index)
    if not wait_until(settled, SETTLE_S, every_s=0.2, workers=workers):
        tails = "\n\n".join(f"{w.log_path.name}:\n{w.log_tail()}" for w in workers)
        raise AssertionError(f"phase {index} did not settle\n{tails}")


def until_part_received(traffic: Traffic, index: int, before: int) -> None:
    """Wait until a third of phase ``index``'s deliveries arrived (``before``: the count before
    it), so that the fault hits mid-batch."""
    channels = {message.channel for message in traffic.phases[index].send.values()}
    assert channels == {NotifyChannel.EMAIL, NotifyChannel.WEBHOOK}
    part = traffic.deliveries(index) // 3
    servers = traffic.servers
    assert wait_until(lambda: servers.received() - before >= part, 30, every_s=0.005)


def test_kill_9_of_a_notify_worker_mid_batch_loses_nothing_and_repeats_only_sends_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    fast_notify(monkeypatch, servers)
    with embedded_stack(tmp_path, partitions=PARTITIONS) as settings:
        traffic = Traffic.prepare(settings, servers, ORDERS, HOOKS)
        timeline = WorkerProcess(settings, "timeline", tmp_path).start()
        notify = WorkerProcess(settings, "notify", tmp_path).start()
        in_flight: set[str] = set()
        try:
            for index in range(len(traffic.phases)):
                if index != FAULT_PHASE:
                    traffic.send(index)
                    settle(traffic, index, (timeline, notify))
                    continue
                servers.slow(SLOW_WEBHOOK_S, SLOW_EMAIL_S)
                before = servers.received()
                traffic.send(index)
                until_part_received(traffic, index, before)
                notify.kill()
                at_kill = traffic.entries()
                servers.slow(0.0, 0.0)
                notify = WorkerProcess(settings, "notify", tmp_path).start()
                in_flight = {i for i, e in at_kill.items() if e.state is MessageState.SENDING}
                phase = traffic.phases[index].send
                states = {at_kill[i].state for i in phase if i in at_kill}
                assert in_flight, "the kill should catch sends in flight"
                assert MessageState.SENT in states, "the kill should come after some sends"
                assert MessageState.QUEUED in states, "the kill should come before others"
                settle(traffic, index, (timeline, notify))
        finally:
            notify.stop()
            timeline.stop()
        traffic.check(may_repeat=in_flight)


def timeline_changes_read(worker: WorkerProcess) -> int:
    """How many timeline changes the worker's notify role has read (its ``/metrics``; 0 while
    it is starting)."""
    url = f"http://127.0.0.1:{worker.web_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
    except urllib.error.URLError:
        return 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "wismo_events_in_total"
                and labels.get("agent") == "notify"
                and labels.get("kind") == "timeline"
            ):
                return int(sample.value)
    return 0


async def _members(settings: Settings) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        (answer,) = await admin.describe_consumer_groups([group_id(settings, ["notify"])])
    finally:
        await admin.close()
    ((_, _, state, *_, members),) = answer.groups
    return len(members) if state == "Stable" else 0


def group_members(settings: Settings) -> int:
    """Members of the notify workers' consumer group once it is stable (0 while it is not)."""
    return asyncio.run(_members(settings))


def test_two_notify_workers_share_the_partitions_and_hand_them_over_each_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    fast_notify(monkeypatch, servers)
    with embedded_stack(tmp_path, partitions=PARTITIONS) as settings:
        traffic = Traffic.prepare(settings, servers, ORDERS, HOOKS)
        timeline = WorkerProcess(settings, "timeline", tmp_path).start()
        first = WorkerProcess(settings, "notify", tmp_path).start()
        second = WorkerProcess(settings, "notify", tmp_path)
        workers = (timeline, first, second)
        try:
            traffic.send(0)
            settle(traffic, 0, (timeline, first))
            # the second worker joins while orders trickle in: a rebalance mid-stream
            second.start()
            for index in (1, 2):
                traffic.send(index, pause_s=TRICKLE_S)
                settle(traffic, index, workers)
            assert wait_until(lambda: group_members(settings) == 2, 30, workers=workers)
            # both own partitions: both plan timeline changes of this phase
            read = {w.web_port: timeline_changes_read(w) for w in (first, second)}
            traffic.send(3)
            settle(traffic, 3, workers)
            for worker in (first, second):
                assert timeline_changes_read(worker) > read[worker.web_port], worker.log_tail()
            # the first is stopped while the next phase trickles in and its messages are sent:
            # the second takes its partitions over
            servers.slow(SLOW_WEBHOOK_S, SLOW_EMAIL_S)
            before = servers.received()
            with ThreadPoolExecutor(1) as pool:
                sending = pool.submit(traffic.send, FAULT_PHASE, pause_s=TRICKLE_S)
                until_part_received(traffic, FAULT_PHASE, before)
                assert not sending.done(), "the stop should come while orders still arrive"
                assert first.stop() == 0, first.log_tail()
                sending.result()
            servers.slow(0.0, 0.0)
            settle(traffic, FAULT_PHASE, (timeline, second))
            taken_over = timeline_changes_read(second)
            for index in range(FAULT_PHASE + 1, len(traffic.phases)):
                traffic.send(index)
                settle(traffic, index, (timeline, second))
            assert timeline_changes_read(second) >= taken_over + ORDERS, second.log_tail()
        finally:
            second.stop()
            first.stop()
            timeline.stop()
        # a worker that stops (rather than dies) finishes its sends in flight: nothing repeats
        traffic.check(may_repeat=())
