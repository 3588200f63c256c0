"""The whole loop through the real broker: a shipment goes quiet, a ``timeline,sweeper`` worker
opens the stalled exception within one sweep interval of its deadline, and the delivery scan
resolves it.

The threshold is three seconds (``WISMO_THRESHOLDS__STALLED_HOURS``) so the clock runs for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from projections.connections import redis_client
from projections.exception_flow import timeline_from_json
from projections.redis_store import RedisTimelineStore
from projections.timeline_model import ExceptionView
from tests.projections.test_exceptions import Story
from tests.streams.harness import WorkerProcess, embedded_stack, wait_until
from wismo.events import Event, dump_event
from wismo.settings import Settings
from wismo.topics import EVENTS
from wismo.vocab import ExceptionState, ExceptionType

pytestmark = pytest.mark.slow

STALLED_S = 3.0
SWEEP_S = 0.5
#: the broker round trips (events → timeline → sweeper → events → timeline) on a busy machine
SLACK_S = 5.0


async def send(settings: Settings, events: Sequence[Event]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for event in events:
            key = (event.order_id or "").encode()
            await producer.send_and_wait(settings.topic(EVENTS), dump_event(event), key=key)
    finally:
        await producer.stop()


async def timeline_present(settings: Settings, order_id: str) -> bool:
    client = await redis_client(settings)
    try:
        store = RedisTimelineStore(client, settings.redis.key_prefix)
        return await store.timeline(order_id) is not None
    finally:
        await client.aclose()


async def stalled(settings: Settings, order_id: str) -> ExceptionView | None:
    client = await redis_client(settings)
    try:
        document = await RedisTimelineStore(client, settings.redis.key_prefix).timeline(order_id)
    finally:
        await client.aclose()
    if document is None:
        return None
    views = timeline_from_json(document).exceptions
    return next((v for v in views if v.type is ExceptionType.STALLED), None)


def test_a_quiet_shipment_opens_stalled_on_time_and_delivery_resolves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WISMO_THRESHOLDS__STALLED_HOURS", str(STALLED_S / 3600))
    monkeypatch.setenv("WISMO_SWEEPER__INTERVAL_S", str(SWEEP_S))
    with embedded_stack(tmp_path, partitions=2) as settings:
        worker = WorkerProcess(settings, "timeline,sweeper", tmp_path).start()
        try:
            story = Story(order_id="ORD-QUIET", tracking="1ZQUIET00000001")
            story.add("order.placed", datetime.now(UTC), {"order_number": "Q1"})
            story.shipped(at=datetime.now(UTC))
            asyncio.run(send(settings, story.events))
            # the worker needs a few seconds to join its group: wait for the first timeline
            assert wait_until(
                lambda: asyncio.run(timeline_present(settings, story.order_id)),
                60,
                workers=(worker,),
            ), worker.log_tail()
            last_scan = datetime.now(UTC)
            asyncio.run(send(settings, story.scan(last_scan, "in_transit").events[-1:]))
            deadline = last_scan + timedelta(seconds=STALLED_S)

            def opened() -> bool:
                view = asyncio.run(stalled(settings, story.order_id))
                return view is not None and view.state is ExceptionState.OPEN

            assert wait_until(opened, 30, every_s=0.1, workers=(worker,)), worker.log_tail()
            noticed = datetime.now(UTC)
            view = asyncio.run(stalled(settings, story.order_id))
            assert view is not None
            assert view.opened_at == deadline
            assert deadline <= noticed <= deadline + timedelta(seconds=SWEEP_S + SLACK_S)

            delivered = Story(order_id=story.order_id, tracking=story.tracking)
            delivered.scan(datetime.now(UTC), "delivered")
            asyncio.run(send(settings, delivered.events))

            def resolved() -> bool:
                view = asyncio.run(stalled(settings, story.order_id))
                return view is not None and view.state is ExceptionState.RESOLVED

            assert wait_until(resolved, 30, every_s=0.2, workers=(worker,)), worker.log_tail()
            view = asyncio.run(stalled(settings, story.order_id))
            assert view is not None
            assert view.automatic_resolution
        finally:
            worker.stop()
