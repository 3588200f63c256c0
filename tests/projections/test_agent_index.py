"""The agent index as a projection: written by the store's commit, on the real Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from hypothesis import given

from projections.agent_index import AgentIndex, ExceptionQuery, index_entries, select_exceptions
from projections.redis_store import RedisTimelineStore
from projections.serialize import queue_source, timeline_to_json
from projections.timeline import fold
from tests.api.conftest import example_order
from tests.projections.synthetic import order_history
from tests.strategies import order_histories
from wismo.events import Event, event_from_dict

ORDER = "ORD-7"


def opened(at: datetime, exception_id: str = "exc:pay-7") -> Event:
    return event_from_dict(
        {
            "event_id": f"wismo:{exception_id}:opened",
            "source": "wismo",
            "kind": "exception.opened",
            "order_id": ORDER,
            "occurred_at": at.isoformat(),
            "payload": {
                "exception_id": exception_id,
                "type": "payment_capture_failed",
                "severity": "high",
                "owner": "payment",
                "message": "Capture failed",
            },
        }
    )


def resolved(at: datetime, exception_id: str = "exc:pay-7") -> Event:
    return event_from_dict(
        {
            "event_id": f"wismo:{exception_id}:resolved",
            "source": "wismo",
            "kind": "exception.resolved",
            "order_id": ORDER,
            "occurred_at": at.isoformat(),
            "payload": {"exception_id": exception_id, "automatic": False, "note": "refunded"},
        }
    )


def history() -> list[Event]:
    return order_history(7, random.Random(7))


async def open_queue(index: AgentIndex) -> list[str]:
    rows = select_exceptions(await index.exceptions(), ExceptionQuery(), datetime.now(UTC))
    return [r["exception_id"] for r in rows]


async def test_a_commit_indexes_its_order_and_exceptions(
    redis_store: RedisTimelineStore, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    now = datetime.now(UTC)
    await redis_store.apply([*history(), opened(now - timedelta(hours=2))])

    index = AgentIndex(redis_client, redis_prefix)  # a reader that saw none of it happen
    assert await index.orders_by_number("#100007") == [ORDER]
    assert await index.orders_by_email("Customer7@example.com ") == [ORDER]
    assert await open_queue(index) == ["exc:pay-7"]
    row = await index.exception("exc:pay-7")
    assert row is not None
    assert (row["order_id"], row["state"], row["severity"]) == (ORDER, "open", "high")


async def test_a_resolution_leaves_the_open_queue(
    redis_store: RedisTimelineStore, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = AgentIndex(redis_client, redis_prefix)
    now = datetime.now(UTC)
    await redis_store.apply([*history(), opened(now - timedelta(hours=2))])
    await redis_store.apply([resolved(now - timedelta(hours=1))])

    assert await open_queue(index) == []
    row = await index.exception("exc:pay-7")
    assert row is not None
    assert row["state"] == "resolved"


async def test_an_exception_resolved_before_the_keep_is_dropped(
    redis_store: RedisTimelineStore, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = AgentIndex(redis_client, redis_prefix)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    await redis_store.apply([*history(), opened(long_ago)])
    assert await open_queue(index) == ["exc:pay-7"]

    await redis_store.apply([resolved(long_ago + timedelta(hours=1))])

    assert await index.exceptions() == []


async def test_a_writer_that_lost_a_race_leaves_no_stale_row(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """The index moves with the commit: a writer whose view was stale writes nothing of it."""
    now = datetime.now(UTC)
    first = RedisTimelineStore(redis_client, redis_prefix)
    stale = RedisTimelineStore(redis_client, redis_prefix)
    await stale.apply(history())  # caches the order without its exception
    await first.apply([opened(now - timedelta(hours=2))])  # moves the order under `stale`
    await first.apply([resolved(now - timedelta(hours=1))])

    await stale.apply([opened(now - timedelta(hours=2))])  # conflict, re-read, nothing new

    row = await AgentIndex(redis_client, redis_prefix).exception("exc:pay-7")
    assert row is not None
    assert row["state"] == "resolved"


async def test_changed_rows_ride_on_the_change_summary(
    redis_store: RedisTimelineStore, redis_client: aioredis.Redis
) -> None:
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(redis_store.keys.agents_channel)
    now = datetime.now(UTC)
    try:
        *earlier, last = history()
        await redis_store.apply(earlier)
        await redis_store.apply([opened(now - timedelta(hours=2))])
        await redis_store.apply([last])  # the timeline changes, its exception does not
        await redis_store.apply([resolved(now - timedelta(hours=1))])
        marker = f"end-{uuid.uuid4().hex}".encode()
        await redis_client.publish(redis_store.keys.agents_channel, marker)
        received: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is None:
                    continue
                if message["data"] == marker:
                    break
                received.append(orjson.loads(message["data"]))
    finally:
        await cast(Any, pubsub).aclose()  # typed in some redis releases, not in others

    announced = [[r["state"] for r in s.get("exceptions", [])] for s in received]
    assert announced == [[], ["open"], [], ["resolved"]]
    assert all(s["order_id"] == ORDER for s in received)


@given(order_histories())
def test_queue_rows_from_the_timeline_equal_those_from_its_json(events: list[Event]) -> None:
    # The commit builds the queue rows from the few parts of the timeline they need
    # (serialize.queue_source); they must be the rows of the whole JSON document, byte for byte.
    timeline = fold(events)
    whole = index_entries("1001", None, orjson.loads(timeline_to_json(timeline)))
    parts = index_entries("1001", None, queue_source(timeline))
    assert parts == whole
    assert len(parts.rows) == len(timeline.exceptions)


def test_queue_rows_of_the_example_order_equal_those_from_its_json() -> None:
    # every prefix of the example order: an exception opened on a DHL parcel, then resolved
    seen = set()
    for upto in range(1, len(example_order()) + 1):
        timeline = fold(example_order(upto))
        whole = index_entries("1001", None, orjson.loads(timeline_to_json(timeline)))
        assert index_entries("1001", None, queue_source(timeline)) == whole
        seen |= {row for _, row, _ in whole.rows}
    assert any(b'"carrier":"dhl"' in row and b'"state":"resolved"' in row for row in seen)
    assert any(b'"state":"open"' in row for row in seen)
