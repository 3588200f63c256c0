"""A batch replayed after a crash still reaches the timeline topic.

The crashed worker's Redis write landed (the store holds every event), but its timeline-topic
sends did not. Re-reading the batch, the store reports nothing new; the agent must pass the
orders' current timelines on anyway, or the warehouse (fed from that topic) never sees them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from streams.updates import decode_change
from tests.strategies import BASE
from tests.streams.harness import WorkerProcess, embedded_stack, wait_until
from wismo.events import Event, dump_event, event_from_dict
from wismo.settings import Settings
from wismo.topics import EVENTS, TIMELINE

ORDERS = 20


def _events() -> list[Event]:
    return [
        event_from_dict(
            {
                "event_id": f"oms:replay-{n}",
                "source": "oms",
                "kind": "order.placed",
                "order_id": f"R-{n}",
                "occurred_at": BASE.isoformat(),
                "payload": {"order_number": str(n)},
            }
        )
        for n in range(ORDERS)
    ]


async def _write_before_the_crash(settings: Settings, events: list[Event]) -> None:
    client = await redis_client(settings)
    try:
        store = RedisTimelineStore(client, settings.redis.key_prefix)
        assert len(await store.apply(events)) == ORDERS
    finally:
        await client.aclose()


async def _produce(settings: Settings, events: list[Event]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for event in events:
            assert event.order_id is not None
            await producer.send_and_wait(
                settings.topic(EVENTS), dump_event(event), key=event.order_id.encode()
            )
    finally:
        await producer.stop()


async def _timeline_orders(settings: Settings) -> set[str]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(TIMELINE),
        bootstrap_servers=settings.kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=2000)
        return {
            decode_change(message.value).order_id
            for messages in batches.values()
            for message in messages
            if message.value is not None
        }
    finally:
        await consumer.stop()


def test_a_replayed_batch_passes_the_current_timelines_on(tmp_path: Path) -> None:
    events = _events()
    with embedded_stack(tmp_path) as settings:
        asyncio.run(_write_before_the_crash(settings, events))
        asyncio.run(_produce(settings, events))
        worker = WorkerProcess(settings, "timeline", tmp_path).start()
        try:
            everything = {f"R-{n}" for n in range(ORDERS)}
            arrived = wait_until(
                lambda: asyncio.run(_timeline_orders(settings)) == everything,
                90,
                every_s=1,
                workers=(worker,),
            )
            assert arrived, worker.log_tail()
        finally:
            assert worker.stop() == 0, worker.log_tail()
