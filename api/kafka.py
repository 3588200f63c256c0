"""The API's Kafka producer: started with the app, writes acknowledged by the broker.

``acks="all"`` and waiting on each send's future mean a 202 is only answered once the broker has
the message. Idempotent producing is off: it needs ``InitProducerId``, which the embedded broker
does not serve; re-sends are absorbed downstream by deterministic event ids instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from api.errors import Unavailable
from wismo.settings import Settings
from wismo.topics import ensure_topics

KafkaHeaders = Sequence[tuple[str, bytes]]


class Producer(Protocol):
    """What the API needs of a producer (``aiokafka.AIOKafkaProducer`` has it)."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: KafkaHeaders | None = None,
    ) -> Awaitable[Any]: ...


async def open_producer(settings: Settings) -> Any:
    from aiokafka import AIOKafkaProducer

    if settings.kafka.bootstrap is None:
        raise Unavailable("no Kafka bootstrap configured; start the embedded stack")
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=0,
        request_timeout_ms=10_000,
    )
    await producer.start()
    return producer


async def write(
    producer: Producer, messages: Sequence[tuple[str, bytes | None, bytes, KafkaHeaders | None]]
) -> None:
    """Send ``(topic, key, value, headers)`` messages and wait until the broker has them all."""
    from aiokafka.errors import KafkaError

    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, key, value, headers in messages
        ]
        await asyncio.gather(*futures)
    except (KafkaError, OSError, TimeoutError) as error:
        raise Unavailable(f"the broker did not take the write: {type(error).__name__}") from error
