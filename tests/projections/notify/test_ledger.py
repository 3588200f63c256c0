"""The notification ledger against a real Redis: commits are idempotent, states move forward only,
leases hide taken messages, final transitions write their record in the same step."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from projections.notify.ledger import (
    Committed,
    Ledger,
    SimplePlan,
    message_from_json,
    message_to_json,
)
from projections.notify.model import Message, MessageState, NotifyChannel
from tests.projections.conftest import REDIS_URL

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def message(n: int, *, order: str = "O1", due: datetime = T, channel: str = "email") -> Message:
    return Message(
        key=f"{order}|m{n}|{channel}|ann@example.com",
        order_id=order,
        channel=NotifyChannel(channel),
        recipient="ann@example.com",
        kind="shipped",
        subject=f"S{n}",
        payload={"n": n, "at": T.isoformat()},
        triggered_at=T,
        due_at=due,
        rank=n,
        version=n,
    )


def test_a_message_round_trips_through_its_json() -> None:
    original = message(3, due=T + S)
    assert message_from_json(message_to_json(original)) == original


Step = tuple[list[int], list[int], dict[str, str], int]
plans = st.lists(
    st.tuples(
        st.lists(st.integers(0, 7), max_size=4),  # messages
        st.lists(st.integers(8, 11), max_size=2),  # suppressions
        st.dictionaries(st.sampled_from("abc"), st.sampled_from("xyz"), max_size=2),
        st.integers(1, 4),  # the timeline version planned from
    ),
    min_size=1,
    max_size=5,
)


async def _replayed(ledger: Ledger, history: list[Step], replays: list[Step]) -> None:
    seen: set[str] = set()
    first_state: dict[str, MessageState] = {}
    handled: dict[str, str] = {}
    newest = 0
    for step, (sends, quiets, marks, version) in enumerate([*history, *replays]):
        plan = SimplePlan(
            [message(n) for n in sends], [(message(n), "opted out") for n in quiets], marks
        )
        records = {m.message_id: m.message_id.encode() for m, _ in plan.suppressed}
        committed = await ledger.commit_plan("O1", plan, T + step * S, records, version=version)
        assert committed.stale is (version < newest)
        added = [*committed.messages, *committed.suppressed]
        assert not seen & set(added), "a message committed twice"
        seen |= set(added)
        if committed.stale:
            assert not added
            continue
        newest = version
        for m in plan.messages:
            first_state.setdefault(m.message_id, MessageState.QUEUED)
        for m, _ in plan.suppressed:
            first_state.setdefault(m.message_id, MessageState.SUPPRESSED)
        handled.update(marks)
    assert seen == set(first_state)
    for message_id, state in first_state.items():
        entry = await ledger.get(message_id)
        assert entry is not None
        assert entry.state is state
    assert await ledger.handled("O1") == handled
    queued = {i for i, s in first_state.items() if s is MessageState.QUEUED}
    assert {e.message_id for e in await ledger.take(T + S, 100, 60)} == queued
    quiet = {i.encode() for i, s in first_state.items() if s is MessageState.SUPPRESSED}
    assert set(await ledger.take_records(T + 60 * S, 100, 60)) == quiet


def test_commit_plan_is_idempotent_under_replay() -> None:
    """Any history of plans, then any of them again in any order: each message is committed
    once with its first state, handled entries are those of the plans not older than one
    committed before them, and a stale plan commits nothing."""
    with asyncio.Runner() as runner:
        client = aioredis.Redis.from_url(REDIS_URL)

        @given(plans, st.data())
        def check(history: list[Step], data: st.DataObject) -> None:
            replays = data.draw(st.lists(st.sampled_from(history), max_size=6))
            ledger = Ledger(client, f"wismo-test-{uuid.uuid4().hex[:12]}")
            keys = [ledger.due_key, ledger.records_key, ledger.handled_key("O1")]
            keys += [ledger.order_key("O1")]
            keys += [ledger.record_key(message(n).message_id) for n in range(12)]
            try:
                runner.run(_replayed(ledger, history, replays))
            finally:
                runner.run(client.delete(*keys))

        try:
            check()
        finally:
            runner.run(client.aclose())


async def test_take_leases_and_the_lease_runs_out(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    early, late = message(1), message(2, due=T + 10 * S)
    await ledger.commit_plan("O1", SimplePlan([early, late]), T)
    assert [e.message_id for e in await ledger.take(T, 10, 30)] == [early.message_id]
    assert await ledger.take(T + 9 * S, 10, 30) == []
    assert [e.message_id for e in await ledger.take(T + 10 * S, 10, 30)] == [late.message_id]
    # the first dispatcher died: its message comes back when the lease runs out
    again = await ledger.take(T + 30 * S, 10, 30)
    assert early.message_id in {e.message_id for e in again}


async def test_states_move_forward_only_and_records_go_with_final_transitions(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    m = message(1)
    await ledger.commit_plan("O1", SimplePlan([m]), T)
    assert await ledger.mark_sending(m.message_id, 1, T)
    assert await ledger.mark_retry(m.message_id, T + 5 * S, "503", T, status_code=503)
    entry = await ledger.get(m.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.due, entry.error) == (
        MessageState.QUEUED,
        1,
        T + 5 * S,
        "503",
    )
    assert entry.first_try == T
    assert await ledger.take(T + 4 * S, 10, 30) == []
    assert await ledger.mark_sending(m.message_id, 2, T + 5 * S)
    assert await ledger.mark_sent(
        m.message_id, T + 6 * S, status_code=200, latency_ms=3.5, record=b"sent-record"
    )
    # a stale worker's word after the final one changes nothing and writes no record
    assert not await ledger.mark_failed(m.message_id, "late", T + 7 * S, record=b"late-record")
    assert not await ledger.mark_retry(m.message_id, T + 9 * S, "x", T + 7 * S)
    entry = await ledger.get(m.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.first_try, entry.sent_at) == (
        MessageState.SENT,
        2,
        T,
        T + 6 * S,
    )
    assert await ledger.due_count() == 0
    records = await ledger.take_records(T + 60 * S, 10, 30)
    assert records == [b"sent-record"]
    await ledger.records_done(records)
    assert await ledger.take_records(T + 600 * S, 10, 30) == []


async def test_requeue_resends_under_the_same_id(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    m = message(1)
    await ledger.commit_plan("O1", SimplePlan([m]), T)
    await ledger.mark_sending(m.message_id, 1, T)
    await ledger.mark_failed(m.message_id, "endpoint disabled", T + S)
    assert await ledger.take(T + 2 * S, 10, 30) == []
    assert await ledger.requeue(m.message_id, T + 3 * S)
    (entry,) = await ledger.take(T + 3 * S, 10, 30)
    assert (entry.message_id, entry.state, entry.attempts, entry.manual) == (
        m.message_id,
        MessageState.QUEUED,
        1,
        True,
    )
    assert entry.first_try is None
    assert entry.reason is None
    assert not await ledger.requeue("msg_unknown", T)


async def test_for_order_lists_newest_first_and_keys_expire(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix, keep_s=3600, handled_keep_s=7200)
    await ledger.commit_plan("O1", SimplePlan([message(1)], handled={"shipped": "S1"}), T)
    await ledger.commit_plan("O1", SimplePlan([message(2)], [(message(3), "overtaken")]), T + S)
    await ledger.commit_plan("O2", SimplePlan([message(1, order="O2")]), T)
    listed = await ledger.for_order("O1", 10)
    assert [e.message.rank for e in listed[:1]] in ([2], [3])
    assert {e.message.rank for e in listed} == {1, 2, 3}
    assert [e.reason for e in listed if e.state is MessageState.SUPPRESSED] == ["overtaken"]
    assert len(await ledger.for_order("O1", 1)) == 1
    assert 0 < await redis_client.ttl(ledger.record_key(message(1).message_id)) <= 3600
    assert 3600 < await redis_client.ttl(ledger.handled_key("O1")) <= 7200
    assert 3600 < await redis_client.ttl(ledger.order_key("O1")) <= 7200


async def test_holds_failing_and_pending(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    assert await ledger.hold("sub|O1", "msg_a") == "msg_a"
    assert await ledger.hold("sub|O1", "msg_b") == "msg_a"
    await ledger.release("sub|O1", "msg_b")
    assert await ledger.holder("sub|O1") == "msg_a"
    await ledger.release("sub|O1", "msg_a")
    assert await ledger.holder("sub|O1") is None

    assert await ledger.failing_since("sub", T) == T
    assert await ledger.failing_since("sub", T + S) == T
    await ledger.succeeded("sub")
    assert await ledger.failing_since("sub", T + 2 * S) == T + 2 * S
    assert await ledger.failing_since("sub", T + 5 * S, gap_s=3) == T + 2 * S
    assert await ledger.failing_since("sub", T + 9 * S, gap_s=3) == T + 9 * S

    assert await ledger.defer("O1", T + 5 * S, T) == T
    assert await ledger.defer("O1", T + 9 * S, T + 5 * S) == T
    assert await ledger.take_pending(T + 5 * S, 10, 30) == []
    await ledger.expedite("O1", T + 6 * S)
    await ledger.expedite("O2", T + 6 * S)  # not waiting: nothing
    assert await ledger.take_pending(T + 6 * S, 10, 30) == ["O1"]
    await ledger.undefer("O1")
    assert await ledger.defer("O1", T + 9 * S, T + 8 * S) == T + 8 * S


async def test_a_lease_that_ran_out_does_not_send(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    m = message(1)
    await ledger.commit_plan("O1", SimplePlan([m]), T)
    (slow,) = await ledger.take(T, 10, 30)
    # the first dispatcher waited its turn past its lease; a second took the message
    (fast,) = await ledger.take(T + 30 * S, 10, 30)
    assert await ledger.mark_sending(m.message_id, 1, T + 30 * S, lease=fast.lease, lease_s=30)
    assert not await ledger.mark_sending(m.message_id, 1, T + 31 * S, lease=slow.lease)
    entry = await ledger.get(m.message_id)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.due) == (MessageState.SENDING, 1, T + 60 * S)


async def test_forget_erases_an_orders_messages(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    await ledger.commit_plan("O1", SimplePlan([message(1)], handled={"shipped": "1"}), T)
    await ledger.commit_plan("O2", SimplePlan([message(1, order="O2")]), T)
    await ledger.defer("O1", T, T)
    assert await ledger.forget("O1") == 1
    assert await ledger.get(message(1).message_id) is None
    # what was handled stays (no personal data), so nothing old is sent again
    assert await ledger.handled("O1") == {"shipped": "1"}
    assert await ledger.for_order("O1") == []
    assert [e.order_id for e in [e.message for e in await ledger.take(T, 10, 30)]] == ["O2"]
    assert await ledger.take_pending(T, 10, 30) == []


async def test_a_record_that_does_not_decode_leaves_the_due_set(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    good, bad = message(1), message(2)
    await ledger.commit_plan("O1", SimplePlan([good, bad]), T)
    await redis_client.hset(ledger.record_key(bad.message_id), "spec", b"{not json")
    assert [e.message_id for e in await ledger.take(T, 10, 30)] == [good.message_id]
    assert await ledger.due_count() == 1


async def test_a_message_due_far_ahead_is_kept_until_then(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix, keep_s=3600)
    soon = message(1, due=T + timedelta(days=10))
    await ledger.commit_plan("O1", SimplePlan([soon]), T)
    ttl = await redis_client.ttl(ledger.record_key(soon.message_id))
    assert 10 * 86400 < ttl <= 10 * 86400 + 3600


async def test_a_plan_older_than_one_committed_writes_nothing(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ledger = Ledger(redis_client, redis_prefix)
    newer = SimplePlan([message(2)], handled={"w.o": "delivered.3"})
    older = SimplePlan([message(1)], [(message(3), "opted_out")], {"w.o": "shipped.3"})
    assert not (await ledger.commit_plan("O1", newer, T, version=6)).stale
    stale = await ledger.commit_plan("O1", older, T, {message(3).message_id: b"r"}, version=5)
    assert stale == Committed([], [], stale=True)
    assert await ledger.handled("O1") == {"w.o": "delivered.3"}
    assert await ledger.get(message(1).message_id) is None
    assert await ledger.take_records(T + S, 10, 30) == []
    again = await ledger.commit_plan("O1", SimplePlan([message(4)]), T, version=6)
    assert again.messages == [message(4).message_id]
    # plans without a version (alerts) are not ordered
    assert (await ledger.commit_plan("O1", SimplePlan([message(5)]), T)).messages
