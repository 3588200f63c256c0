"""The Redis stores on a real three-master Redis Cluster (:mod:`tests.cluster_fixture`).

Redis Cluster refuses a script or transaction whose keys lie on different hash slots (even on
one node), so every test here passing is also the proof that no store sends one. The behaviour
tests of the single-Redis suites run here again on the cluster, then an end-to-end pass: events
in, the agent console's search, the due index, tracking links, an erasure.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from api.changes import ChangeFeed
from api.ratelimit import Limit, SharedLimiter
from projections.agent_index import AgentIndex
from projections.clickhouse_store import ClickHouse, ClickHouseStore
from projections.connections import is_cluster, redis_client
from projections.due_index import DueIndex
from projections.erasure import Erasure, Subject
from projections.errors import StoreUnavailable
from projections.links import LinkIndex
from projections.merge import merge
from projections.redis_commit import OrderState, prepare_commit
from projections.redis_keys import RedisKeys
from projections.redis_store import RedisTimelineStore
from projections.retention import document_tracking_numbers
from tests.projections import test_agent_index as agent_index_suite
from tests.projections import test_redis_store as redis_store_suite
from tests.projections import test_retention as retention_suite
from tests.projections.synthetic import order_history
from wismo.events import Event, EventKind
from wismo.ids import email_hash
from wismo.settings import RedisSettings, Settings


async def test_the_cluster_setting_gives_a_cluster_client(redis_cluster_url: str) -> None:
    settings = Settings(redis=RedisSettings(url=redis_cluster_url, cluster=True))
    client = await redis_client(settings)
    try:
        assert isinstance(client, RedisCluster)
        assert is_cluster(client)
        assert len(client.get_primaries()) == 3
    finally:
        await client.aclose()


async def test_an_unreachable_cluster_is_a_clear_error() -> None:
    settings = Settings(redis=RedisSettings(url="redis://user:secret@127.0.0.1:1", cluster=True))
    with pytest.raises(StoreUnavailable, match=r"Redis unreachable at redis://") as caught:
        await redis_client(settings, timeout_s=1)
    assert "secret" not in str(caught.value)


def test_keys_used_together_share_a_slot() -> None:
    keys = RedisKeys("wismo")
    together = [
        [keys.events("O1"), keys.state("O1"), keys.dups("O1"), keys.retained("O1")],
        [keys.index_exceptions, keys.index_resolved],
        [keys.retention_due, keys.retention_orders],
        [keys.tracking("1Z9"), keys.parked("1Z9")],
    ]
    for group in together:
        assert len({key_slot(k.encode()) for k in group}) == 1, group


# the single-Redis behaviour suites, on the cluster ---------------------------------------------


async def test_store_behaviour(redis_cluster_client: aioredis.Redis, redis_prefix: str) -> None:
    client = redis_cluster_client

    def store(part: str) -> RedisTimelineStore:
        return RedisTimelineStore(client, f"{redis_prefix}:{part}")

    await redis_store_suite.test_current_reports_what_redis_holds(store("b"))
    await redis_store_suite.test_scripts_unknown_to_redis_are_loaded_again(store("c"))
    await redis_store_suite.test_concurrent_writers_converge(client, f"{redis_prefix}:d")


async def test_each_change_is_published_once(
    redis_cluster_client: aioredis.Redis, redis_cluster_store: RedisTimelineStore
) -> None:
    """As on one Redis, once the subscriptions are confirmed (a publish crosses the cluster bus,
    which may overtake a subscription still in flight)."""
    store, keys = redis_cluster_store, redis_cluster_store.keys
    history = order_history(1, random.Random(9))
    pubsub = redis_cluster_client.pubsub()
    channels = {keys.order_channel("ORD-1"), keys.agents_channel}
    await pubsub.subscribe(*channels)
    try:
        confirmed: set[str] = set()
        async with asyncio.timeout(5):
            while confirmed != channels:
                message = await pubsub.get_message(timeout=1)
                if message is not None and message["type"] == "subscribe":
                    confirmed.add(message["channel"].decode())
        changes = await store.apply(history[:3])
        changes += await store.apply(history)
        await store.apply(history)
        await redis_cluster_client.publish(keys.agents_channel, b"end")
        messages: list[tuple[str, bytes]] = []
        async with asyncio.timeout(5):
            while not messages or messages[-1][1] != b"end":
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    messages.append((message["channel"].decode(), message["data"]))
        messages.pop()
    finally:
        await cast(Any, pubsub).aclose()  # typed in some redis releases, not in others
    order_channel = keys.order_channel("ORD-1")
    timelines = [data for channel, data in messages if channel == order_channel]
    assert timelines == [c.timeline for c in changes]
    summaries = [orjson.loads(d) for ch, d in messages if ch == keys.agents_channel]
    assert [s["version"] for s in summaries] == [c.version for c in changes]


@pytest.mark.parametrize(
    "case",
    [
        "test_a_commit_indexes_its_order_and_exceptions",
        "test_a_resolution_leaves_the_open_queue",
        "test_an_exception_resolved_before_the_keep_is_dropped",
        "test_changed_rows_ride_on_the_change_summary",
    ],
)
async def test_agent_index_behaviour(
    redis_cluster_client: aioredis.Redis,
    redis_cluster_store: RedisTimelineStore,
    redis_prefix: str,
    case: str,
) -> None:
    test = getattr(agent_index_suite, case)
    if case == "test_changed_rows_ride_on_the_change_summary":
        await test(redis_cluster_store, redis_cluster_client)
    else:
        await test(redis_cluster_store, redis_cluster_client, redis_prefix)


async def test_a_writer_that_lost_a_race_leaves_no_stale_row(
    redis_cluster_client: aioredis.Redis, redis_prefix: str
) -> None:
    await agent_index_suite.test_a_writer_that_lost_a_race_leaves_no_stale_row(
        redis_cluster_client, redis_prefix
    )


async def test_retention_behaviour(
    redis_cluster_client: aioredis.Redis, redis_prefix: str, clickhouse: ClickHouse
) -> None:
    client = redis_cluster_client
    await retention_suite.test_final_orders_expire_with_their_index_entries_live_ones_stay(
        client, f"{redis_prefix}:a"
    )
    await retention_suite.test_an_order_leaving_its_final_state_is_kept_again(
        client, f"{redis_prefix}:b"
    )
    await retention_suite.test_an_expired_order_is_re_read_from_the_log(
        client, f"{redis_prefix}:c", ClickHouseStore(clickhouse)
    )


# the live push ----------------------------------------------------------------------------------


async def test_the_change_feed_hears_commits_made_through_any_node(
    redis_cluster_client: aioredis.Redis,
    redis_cluster_store: RedisTimelineStore,
) -> None:
    feed = ChangeFeed(redis_cluster_client, redis_cluster_store.keys)
    histories = {f"ORD-{i}": order_history(i, random.Random(i)) for i in range(6)}
    summaries: list[dict[str, object]] = []
    timelines: list[tuple[str, bytes]] = []
    live, heard = asyncio.Event(), asyncio.Event()

    def on_summary(summary: dict[str, object]) -> None:
        summaries.append(summary)
        if len(summaries) >= len(histories) and len(timelines) >= len(histories):
            heard.set()

    def on_timeline(order_id: str, data: bytes, _at: float) -> None:
        timelines.append((order_id, data))
        if len(summaries) >= len(histories) and len(timelines) >= len(histories):
            heard.set()

    feed.summary_handlers.append(on_summary)
    feed.timeline_handlers.append(on_timeline)
    feed.reset_handlers.append(lambda: live.set() if feed.live else None)
    await feed.start()
    try:
        async with asyncio.timeout(10):
            await live.wait()
        for order_id in histories:
            await feed.watch(order_id)  # returns once the subscription is confirmed
        changes = await redis_cluster_store.apply([e for h in histories.values() for e in h])
        async with asyncio.timeout(10):
            await heard.wait()
    finally:
        await feed.close()
    assert sorted(s["order_id"] for s in summaries) == sorted(histories)  # type: ignore[type-var]
    assert dict(timelines) == {c.order_id: c.timeline for c in changes}


# end to end ---------------------------------------------------------------------------------------


def _unlinked(events: list[Event]) -> list[Event]:
    """As carriers send them: scans without an order id."""
    return [
        e.model_copy(update={"order_id": None})
        if e.kind in (EventKind.TRACKING_CHECKPOINT, EventKind.EDD_REVISED)
        else e
        for e in events
    ]


async def test_end_to_end_on_the_cluster(
    redis_cluster_client: aioredis.Redis, redis_prefix: str, clickhouse: ClickHouse
) -> None:
    client = redis_cluster_client
    rng = random.Random(21)
    histories = [order_history(i, rng) for i in range(12)]
    events = [e for h in histories for e in _unlinked(h)]
    scans = [e for e in events if e.order_id is None]
    await ClickHouseStore(clickhouse).apply([e for h in histories for e in h])
    store = RedisTimelineStore(client, redis_prefix, url="cluster", retention_s=3600)

    # scans first (parked under their numbers), then the orders: linked and folded
    await store.apply(scans)
    await store.apply([e for e in events if e.order_id is not None])
    for index, history in enumerate(histories):
        order_id = history[0].order_id or ""
        document = orjson.loads(await store.timeline(order_id) or b"")
        assert document["order_id"] == order_id
        for number in document_tracking_numbers(document):
            assert await store.order_for_tracking(number) == order_id
            assert await store.parked(number) == []
        # the agent console finds the order at once, through a reader that saw nothing happen
        agents = AgentIndex(client, redis_prefix)
        assert await agents.orders_by_number(str(100000 + index)) == [order_id]
        assert await agents.orders_by_email(f"customer{index}@example.com") == [order_id]
    links = LinkIndex(client, redis_prefix)
    assert await links.orders(["no-such-number"]) == {}

    # the due index (its own slot)
    due = DueIndex(client, redis_prefix)
    now = datetime.now(UTC)
    await due.schedule_many({f"ORD-{i}": now - timedelta(seconds=i) for i in range(4)})
    taken = await due.take(now, 10, lease_s=60)
    assert sorted(lease.order_id for lease in taken) == [f"ORD-{i}" for i in range(4)]
    assert await due.complete(taken[0], None)
    assert await due.pending() == 3

    # an erasure by e-mail
    report = await Erasure(clickhouse, store).run(
        Subject("email", "Customer3@Example.com"), "agent-1", now
    )
    assert report.orders == ["ORD-3"]
    agents = AgentIndex(client, redis_prefix)
    assert await agents.orders_by_email("customer3@example.com") == []
    assert await agents.orders_by_number("100003") == ["ORD-3"]
    erased = orjson.loads(await store.timeline("ORD-3") or b"")
    assert erased["customer_email_sha256"] is None
    assert email_hash("customer3@example.com") not in str(await _everything(client, redis_prefix))
    assert await agents.orders_by_email("customer4@example.com") == ["ORD-4"]


async def _everything(client: aioredis.Redis, prefix: str) -> list[object]:
    """Every key and value under the prefix (on every master)."""
    found: list[object] = []
    async for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = (await client.type(raw)).decode()  # type: ignore[union-attr]
        read: dict[str, Any] = {
            "string": client.get,
            "hash": client.hgetall,
            "set": client.smembers,
            "zset": lambda k: client.zrange(k, 0, -1),
        }
        found += [raw, await read[kind](raw)]
    return found


async def test_the_api_rate_limit_takes_from_several_buckets_at_once(
    redis_cluster_client: aioredis.Redis, redis_prefix: str
) -> None:
    limiter = SharedLimiter(redis_cluster_client, redis_prefix)
    per_client, per_order = Limit("client", 1.0, 1), Limit("order", 1.0, 5)
    assert await limiter.take((per_client, "10.0.0.1"), (per_order, "100001")) == 0
    assert await limiter.take((per_client, "10.0.0.1"), (per_order, "100001")) > 0
    await limiter.give_back((per_client, "10.0.0.1"))
    assert await limiter.take((per_client, "10.0.0.1"), (per_order, "100001")) == 0


@pytest.fixture(params=["redis_client", "redis_cluster_client"])
def one_or_cluster(request: pytest.FixtureRequest) -> aioredis.Redis:
    client: aioredis.Redis = request.getfixturevalue(request.param)
    return client


async def test_a_commit_whose_index_write_never_happened_is_healed_by_the_next(
    one_or_cluster: aioredis.Redis, redis_prefix: str
) -> None:
    """A worker dying right after its commit script (before the index follow-up): the order's
    next commit, by another worker that never saw it, writes the missing entries."""
    client = one_or_cluster
    *history, last = order_history(7, random.Random(7))
    dying = RedisTimelineStore(client, redis_prefix)
    prepared = prepare_commit(dying.keys, merge("ORD-7", {}, history), OrderState())
    writer = dying.writer  # the commit alone, as a worker killed before its follow-up sent it
    await writer._pipes.execute(lambda pipe: writer._commit_script(pipe, prepared), scripted=True)
    assert await dying.timeline("ORD-7") is not None
    agents = AgentIndex(client, redis_prefix)
    assert await agents.orders_by_number("100007") == []  # the follow-up never ran

    await RedisTimelineStore(client, redis_prefix).apply([last])

    assert await agents.orders_by_number("100007") == ["ORD-7"]
    assert await agents.orders_by_email("customer7@example.com") == ["ORD-7"]
