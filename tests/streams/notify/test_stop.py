"""A dispatcher that stops — its worker shutting down, on SIGTERM — cuts no send off: the sends in
flight finish and are recorded sent, the messages it took but had not started go back to the
ledger due at once, with no attempt and no failure counted against their endpoint, and another
dispatcher sends them: each message once.

(Before ``Dispatcher.stop``, the role closed its HTTP session under the round in flight: the
sends failed as "Session is closed", counted against their subscription, opened its breaker —
the rest of its messages then waited ``breaker_cooldown_s`` — and a request the receiver had
already taken was retried under the same id. tests/streams/notify/test_workers_broker.py
stops a real worker that way.)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import redis.asyncio as aioredis

from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import MessageState
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.dispatch import Dispatcher, Senders
from streams.notify.senders import WebhookSender
from tests.streams.notify.harness import SECRET, PlainRenderer, Receiver, webhook_message
from wismo.settings import NotifySettings

SETTINGS = NotifySettings(
    endpoint_concurrency=2,
    breaker_failures=1,  # one failure counted against the endpoint would open its breaker
    lease_s=30.0,  # what is not handed back waits this long: far beyond the test
    request_timeout_s=2.0,
)


def dispatcher(
    ledger: Ledger, subscriptions: SubscriptionStore, session: aiohttp.ClientSession
) -> Dispatcher:
    senders = Senders(webhook=WebhookSender(SETTINGS, session))
    return Dispatcher(ledger, SETTINGS, senders, subscriptions, PlainRenderer())


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    ends = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < ends, "not in time"
        await asyncio.sleep(0.005)


async def test_stopping_finishes_the_sends_in_flight_and_hands_back_the_rest(
    redis: tuple[aioredis.Redis, str],
) -> None:
    client, prefix = redis
    ledger, subscriptions = Ledger(client, prefix), SubscriptionStore(client, prefix)
    receiver = await Receiver(delay_s=0.3).start()
    try:
        now = datetime.now(UTC)
        sub = await subscriptions.create(receiver.url, ["*"], secrets=[SECRET], now=now)
        messages = [webhook_message(sub.id, f"O{i}", 1, now=now) for i in range(6)]
        for message in messages:
            await ledger.commit_plan(message.order_id, SimplePlan([message]), now)
        session = aiohttp.ClientSession()
        first = dispatcher(ledger, subscriptions, session)
        round_under_way = asyncio.create_task(first.dispatch())
        await until(lambda: receiver.in_flight == SETTINGS.endpoint_concurrency)

        assert await first.stop()
        await session.close()  # what the role does next: nothing is left to cut off
        report = await round_under_way
        stopped = datetime.now(UTC)

        assert report.taken == len(messages)
        entries = {m.message_id: await ledger.get(m.message_id) for m in messages}
        sent = {i for i, e in entries.items() if e is not None and e.state is MessageState.SENT}
        assert len(sent) == SETTINGS.endpoint_concurrency
        assert set(receiver.accepted) == sent
        for message_id in set(entries) - sent:
            entry = entries[message_id]
            assert entry is not None
            assert entry.state is MessageState.QUEUED
            assert (entry.attempts, entry.error) == (0, None)
            assert entry.due is not None
            assert entry.due <= stopped  # due again at once
        assert await ledger.endpoints() == ({}, set())  # no lane held, no endpoint failing
        logged = await subscriptions.attempts(sub.id)
        assert [entry["status_code"] for entry in logged] == [204, 204]
        assert (await first.dispatch()).taken == 0  # stopped: takes nothing more

        receiver.delay_s = 0.0
        async with aiohttp.ClientSession() as fresh:
            report = await dispatcher(ledger, subscriptions, fresh).dispatch()
        assert report.taken == len(messages) - len(sent)  # no lease to wait for
        for message in messages:
            entry = await ledger.get(message.message_id)
            assert entry is not None
            assert entry.state is MessageState.SENT
        assert Counter(receiver.accepted) == Counter({m.message_id: 1 for m in messages})
    finally:
        await receiver.stop()


async def test_a_stop_that_outlasts_its_timeout_leaves_the_send_to_finish(
    redis: tuple[aioredis.Redis, str],
) -> None:
    client, prefix = redis
    ledger, subscriptions = Ledger(client, prefix), SubscriptionStore(client, prefix)
    receiver = await Receiver(delay_s=0.5).start()
    try:
        now = datetime.now(UTC)
        sub = await subscriptions.create(receiver.url, ["*"], secrets=[SECRET], now=now)
        message = webhook_message(sub.id, "O1", 1, now=now)
        await ledger.commit_plan(message.order_id, SimplePlan([message]), now)
        async with aiohttp.ClientSession() as session:
            first = dispatcher(ledger, subscriptions, session)
            round_under_way = asyncio.create_task(first.dispatch())
            await until(lambda: receiver.in_flight == 1)
            assert not await first.stop(timeout_s=0.05)
            entry = await ledger.get(message.message_id)
            assert entry is not None
            assert entry.state is MessageState.SENDING  # as if its worker died now
            await round_under_way
        entry = await ledger.get(message.message_id)
        assert entry is not None
        assert entry.state is MessageState.SENT
        assert receiver.accepted == [message.message_id]
    finally:
        await receiver.stop()
