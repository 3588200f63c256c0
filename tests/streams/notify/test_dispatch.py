"""The dispatcher against a real Redis and a real local webhook receiver (aiohttp), with the
real webhook sender: retries and order, the breaker, auto-disabling, overtaken messages, manual
re-send, per-endpoint concurrency, paused subscriptions, outcome records."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.milestones import RANK, fact_key
from projections.notify.model import Message, MessageState, Milestone, NotifyChannel, Subscription
from projections.notify.subscriptions import SubscriptionStore
from streams.notify.dispatch import Dispatcher, Outcome, Senders
from streams.notify.records import decode_record
from streams.notify.senders import WebhookSender
from tests.projections.conftest import REDIS_URL, drop_prefix
from tests.streams.notify.harness import (
    SECRET,
    PlainRenderer,
    Receiver,
    email_message,
    webhook_message,
)
from wismo.settings import NotifySettings

FAST = {
    "retry_base_s": 0.01,
    "retry_cap_s": 0.05,
    "breaker_failures": 50,
    "breaker_cooldown_s": 0.3,
    "lease_s": 5.0,
    "request_timeout_s": 2.0,
}


@dataclass
class Env:
    redis: aioredis.Redis
    prefix: str
    ledger: Ledger
    subscriptions: SubscriptionStore
    receiver: Receiver
    session: aiohttp.ClientSession

    def dispatcher(self, **overrides: Any) -> Dispatcher:
        settings = NotifySettings(**(FAST | overrides))
        senders = Senders(webhook=WebhookSender(settings, self.session))
        return Dispatcher(self.ledger, settings, senders, self.subscriptions, PlainRenderer())

    async def subscription(self, **fields: Any) -> Subscription:
        return await self.subscriptions.create(
            self.receiver.url, ["*"], secrets=[SECRET], now=datetime.now(UTC), **fields
        )

    async def plan(self, *messages: Message) -> None:
        for message in messages:
            await self.ledger.commit_plan(message.order_id, SimplePlan([message]), _now())

    async def states(self, messages: list[Message]) -> list[MessageState]:
        entries = [await self.ledger.get(m.message_id) for m in messages]
        return [e.state if e is not None else MessageState.QUEUED for e in entries]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    receiver = await Receiver().start()
    session = aiohttp.ClientSession()
    try:
        yield Env(
            client,
            prefix,
            Ledger(client, prefix),
            SubscriptionStore(client, prefix),
            receiver,
            session,
        )
    finally:
        await session.close()
        await receiver.stop()
        await drop_prefix(client, prefix)
        await client.aclose()


def _now() -> datetime:
    return datetime.now(UTC)


async def until(
    dispatcher: Dispatcher, done: Callable[[], Awaitable[bool]], timeout_s: float = 8.0
) -> None:
    ends = time.monotonic() + timeout_s
    while not await done():
        assert time.monotonic() < ends, "the dispatcher did not get there in time"
        await dispatcher.dispatch()
        await asyncio.sleep(0.01)


async def test_retries_back_off_then_deliver_each_once_in_order(env: Env) -> None:
    sub = await env.subscription()
    env.receiver.failures = 3
    messages = [webhook_message(sub.id, "O1", v, now=_now()) for v in range(1, 6)]
    await env.plan(*reversed(messages))  # planned in any order: the lane goes by version
    dispatcher = env.dispatcher()

    async def all_sent() -> bool:
        return await env.states(messages) == [MessageState.SENT] * 5

    await until(dispatcher, all_sent)
    assert env.receiver.accepted == [m.message_id for m in messages]
    first = await env.ledger.get(messages[0].message_id)
    assert first is not None
    assert first.attempts == 4  # three 503s, then delivered
    assert first.first_try is not None
    assert first.sent_at is not None
    log = await env.subscriptions.attempts(sub.id, 10)
    assert [entry["status_code"] for entry in reversed(log)] == [503, 503, 503, 204, *[204] * 4]
    assert {entry["message_id"] for entry in log[:4]} <= {m.message_id for m in messages}
    # the later messages waited behind the first without attempts of their own
    for later in messages[1:]:
        entry = await env.ledger.get(later.message_id)
        assert entry is not None
        assert entry.attempts == 1


async def test_the_breaker_opens_then_a_probe_closes_it(env: Env) -> None:
    sub = await env.subscription(max_concurrency=1)
    env.receiver.down = True
    messages = [webhook_message(sub.id, f"O{i}", 1, now=_now()) for i in range(6)]
    await env.plan(*messages)
    dispatcher = env.dispatcher(breaker_failures=2, breaker_cooldown_s=1.0)
    report = await dispatcher.dispatch()
    assert report.taken == 6
    assert env.receiver.requests == 2  # the breaker opened after two failures
    assert report.outcomes[Outcome.WAITING] == 6
    await asyncio.sleep(0.1)
    await dispatcher.dispatch()
    assert env.receiver.requests == 2  # still open: nothing went out
    env.receiver.down = False
    await asyncio.sleep(1.0)

    async def all_sent() -> bool:
        return await env.states(messages) == [MessageState.SENT] * 6

    await until(dispatcher, all_sent)
    assert env.receiver.requests == 2 + 6
    assert sorted(env.receiver.accepted) == sorted(m.message_id for m in messages)


async def test_a_subscription_failing_throughout_is_disabled_with_a_reason(env: Env) -> None:
    sub = await env.subscription()
    env.receiver.down = True
    env.receiver.fail_status = 500
    messages = [webhook_message(sub.id, f"O{i}", 1, now=_now()) for i in range(3)]
    await env.plan(*messages)
    dispatcher = env.dispatcher(disable_after_s=0.3)

    async def all_failed() -> bool:
        return await env.states(messages) == [MessageState.FAILED] * 3

    await until(dispatcher, all_failed)
    disabled = await env.subscriptions.get(sub.id)
    assert disabled is not None
    assert disabled.disabled_reason is not None
    assert disabled.disabled_reason.startswith("failing since")
    assert "HTTP 500" in disabled.disabled_reason
    assert disabled.disabled_at is not None
    for message in messages:
        entry = await env.ledger.get(message.message_id)
        assert entry is not None
        assert entry.reason == "endpoint disabled"
    # a message planned afterwards fails at once, without an attempt
    before = env.receiver.requests
    late = webhook_message(sub.id, "O9", 1, now=_now())
    await env.plan(late)
    await dispatcher.dispatch()
    assert await env.states([late]) == [MessageState.FAILED]
    assert env.receiver.requests == before
    records = [decode_record(r) for r in await env.ledger.take_records(_now(), 100, 5)]
    assert sorted(r.message_id for r in records) == sorted(m.message_id for m in [*messages, late])
    assert {r.reason for r in records} == {"endpoint disabled"}


async def test_a_permanent_refusal_fails_at_once(env: Env) -> None:
    sub = await env.subscription()
    env.receiver.down = True
    env.receiver.fail_status = 422
    message = webhook_message(sub.id, "O1", 1, now=_now())
    await env.plan(message)
    report = await env.dispatcher().dispatch()
    assert report.outcomes[Outcome.FAILED] == 1
    entry = await env.ledger.get(message.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.status_code) == (MessageState.FAILED, 1, 422)


async def test_the_retry_horizon_fails_a_message(env: Env) -> None:
    sub = await env.subscription()
    env.receiver.down = True
    message = webhook_message(sub.id, "O1", 1, now=_now())
    await env.plan(message)
    dispatcher = env.dispatcher(retry_horizon_s=0.2)

    async def failed() -> bool:
        return await env.states([message]) == [MessageState.FAILED]

    await until(dispatcher, failed)
    entry = await env.ledger.get(message.message_id)
    assert entry is not None
    assert entry.reason is not None
    assert entry.reason.startswith("retry horizon")
    assert entry.attempts >= 2


async def test_an_overtaken_journey_message_is_suppressed(env: Env) -> None:
    now = _now()
    out = email_message(
        "O1", Milestone.OUT_FOR_DELIVERY.value, now=now, rank=RANK[Milestone.OUT_FOR_DELIVERY],
        payload={"shipment_id": "S1"},
    )  # fmt: skip
    await env.plan(out)
    # "delivered" was handled while the message waited behind quiet hours
    delivered = SimplePlan(
        handled={fact_key(Milestone.DELIVERED, "S1"): f"{RANK[Milestone.DELIVERED]}:S1"}
    )
    await env.ledger.commit_plan("O1", delivered, now)
    report = await env.dispatcher().dispatch()
    assert report.outcomes[Outcome.SUPPRESSED] == 1
    entry = await env.ledger.get(out.message_id)
    assert entry is not None
    assert (entry.state, entry.reason, entry.attempts) == (MessageState.SUPPRESSED, "overtaken", 0)
    (record,) = [decode_record(r) for r in await env.ledger.take_records(_now(), 10, 5)]
    assert (record.state, record.reason) == (MessageState.SUPPRESSED, "overtaken")


async def test_a_channel_without_a_sender_is_suppressed_with_the_reason(env: Env) -> None:
    message = email_message("O1", Milestone.SHIPPED.value, now=_now())
    await env.plan(message)
    await env.dispatcher().dispatch()
    entry = await env.ledger.get(message.message_id)
    assert entry is not None
    assert (entry.state, entry.reason) == (MessageState.SUPPRESSED, "no email channel configured")


async def test_manual_requeue_resends_under_the_same_webhook_id(env: Env) -> None:
    sub = await env.subscription()
    message = webhook_message(sub.id, "O1", 1, now=_now())
    await env.plan(message)
    dispatcher = env.dispatcher()
    await dispatcher.dispatch()
    assert env.receiver.accepted == [message.message_id]
    assert await env.ledger.requeue(message.message_id, _now())
    await dispatcher.dispatch()
    assert env.receiver.accepted == [message.message_id] * 2
    entry = await env.ledger.get(message.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts) == (MessageState.SENT, 2)


async def test_the_endpoint_concurrency_limit_holds(env: Env) -> None:
    sub = await env.subscription(max_concurrency=3)
    env.receiver.delay_s = 0.05
    messages = [webhook_message(sub.id, f"O{i}", 1, now=_now()) for i in range(12)]
    await env.plan(*messages)
    report = await env.dispatcher().dispatch()
    assert report.outcomes[Outcome.SENT] == 12
    assert env.receiver.max_in_flight == 3


async def test_a_slow_endpoint_does_not_hold_another(env: Env) -> None:
    slow_receiver = await Receiver(delay_s=2.0).start()
    try:
        slow = await env.subscriptions.create(
            slow_receiver.url, ["*"], secrets=[SECRET], now=_now(), max_concurrency=1
        )
        fast = await env.subscription()
        slow_messages = [webhook_message(slow.id, "S0", 1, now=_now())]
        fast_messages = [webhook_message(fast.id, f"F{i}", 1, now=_now()) for i in range(5)]
        await env.plan(*slow_messages, *fast_messages)
        dispatcher = env.dispatcher()
        round_ = asyncio.create_task(dispatcher.dispatch())
        ends = asyncio.get_running_loop().time() + 1.5
        while len(env.receiver.accepted) < 5:  # the fast endpoint gets done …
            assert asyncio.get_running_loop().time() < ends
            await asyncio.sleep(0.01)
        assert slow_receiver.accepted == []  # … while the slow one is still on its first
        await round_
    finally:
        await slow_receiver.stop()


async def test_a_paused_subscription_waits(env: Env) -> None:
    sub = await env.subscription()
    await env.subscriptions.pause(sub.id, now=_now())
    message = webhook_message(sub.id, "O1", 1, now=_now())
    await env.plan(message)
    dispatcher = env.dispatcher(breaker_cooldown_s=0.1)
    report = await dispatcher.dispatch()
    assert report.outcomes[Outcome.WAITING] == 1
    assert env.receiver.requests == 0
    await env.subscriptions.resume(sub.id, now=_now())
    await asyncio.sleep(0.1)

    async def sent() -> bool:
        return await env.states([message]) == [MessageState.SENT]

    await until(dispatcher, sent)
    entry = await env.ledger.get(message.message_id)
    assert entry is not None
    assert entry.attempts == 1


async def test_a_message_left_sending_is_sent_again_under_its_id(env: Env) -> None:
    sub = await env.subscription()
    message = webhook_message(sub.id, "O1", 1, now=_now())
    await env.plan(message)
    # a dispatcher took it, started the attempt and died: the lease runs out
    (taken,) = await env.ledger.take(_now(), 10, 0.05)
    assert await env.ledger.mark_sending(message.message_id, 1, _now(), lease=taken.lease)
    await asyncio.sleep(0.06)
    report = await env.dispatcher().dispatch()
    assert report.outcomes[Outcome.SENT] == 1
    assert env.receiver.accepted == [message.message_id]
    headers = env.receiver.headers[message.message_id]
    assert headers["webhook-id"] == message.message_id
    entry = await env.ledger.get(message.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts) == (MessageState.SENT, 2)


async def test_records_are_published_once_the_publisher_returns(env: Env) -> None:
    sub = await env.subscription()
    messages = [webhook_message(sub.id, f"O{i}", 1, now=_now()) for i in range(3)]
    await env.plan(*messages)
    dispatcher = env.dispatcher(lease_s=1.0)
    await dispatcher.dispatch()
    published: list[bytes] = []

    async def broken(records: Any) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        await dispatcher.publish_records(broken)

    async def publish(records: Any) -> None:
        published.extend(records)

    assert await dispatcher.publish_records(publish) == 0  # leased by the failed attempt
    await asyncio.sleep(1.0)  # its lease runs out
    assert await dispatcher.publish_records(publish) == 3
    assert await dispatcher.publish_records(publish) == 0
    records = [decode_record(r) for r in published]
    assert {r.state for r in records} == {MessageState.SENT}
    assert {r.channel for r in records} == {NotifyChannel.WEBHOOK}
    assert {r.endpoint for r in records} == {sub.id}


async def test_a_sender_that_raises_fails_an_attempt_and_holds_nothing_else(env: Env) -> None:
    sub = await env.subscription()
    good = webhook_message(sub.id, "O1", 1, now=_now())
    await env.plan(good)
    broken = email_message("O2", "shipped", now=_now())
    await env.plan(broken)

    class Raising:
        async def send(self, *_: Any) -> Any:
            raise AssertionError("a sender bug")

    dispatcher = env.dispatcher()
    dispatcher.senders.email = Raising()  # type: ignore[assignment]
    report = await dispatcher.dispatch()
    assert report.outcomes[Outcome.SENT] == 1
    assert env.receiver.accepted == [good.message_id]
    # the sender's exception counts as a failed attempt, retried later
    entry = await env.ledger.get(broken.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts) == (MessageState.QUEUED, 1)
