"""Topic creation on the real broker, and the raw topic's headers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from cli.runtime.embedded import EmbeddedServices
from tests.streams.harness import stack_settings
from wismo.settings import Settings
from wismo.topics import (
    RawPayload,
    decode_headers,
    ensure_topics,
    http_headers_of,
    received_at_of,
    topic_names,
)


def test_raw_headers_carry_source_delivery_time_and_the_http_headers() -> None:
    received = datetime(2026, 3, 5, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    payload = RawPayload(
        "aftership",
        b"{}",
        received,
        delivery_id="wh-1",
        http_headers={"Aftership-Hmac-Sha256": "abc"},
    )
    headers = decode_headers(payload.kafka_headers())
    assert headers["wismo-source"] == "aftership"
    assert headers["wismo-delivery-id"] == "wh-1"
    assert received_at_of(headers, datetime.now(UTC)) == received
    assert http_headers_of(headers) == {"aftership-hmac-sha256": "abc"}
    assert payload.key == b"wh-1"


def test_a_missing_or_garbled_time_falls_back_to_now() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert received_at_of({}, now) == now
    assert received_at_of({"wismo-received-at": "yesterday"}, now) == now


async def _partitions(settings: Settings) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
    await consumer.start()
    try:
        await consumer.topics()  # fetch the cluster metadata
        return {
            name: len(consumer.partitions_for_topic(name) or ())
            for name in topic_names(settings).values()
        }
    finally:
        await consumer.stop()


def test_topics_are_created_once_with_the_configured_partitions(tmp_path: Path) -> None:
    with EmbeddedServices(stack_settings(tmp_path, partitions=3)) as services:
        settings = services.settings
        asyncio.run(ensure_topics(settings))
        asyncio.run(ensure_topics(settings))  # idempotent
        assert asyncio.run(_partitions(settings)) == dict.fromkeys(
            topic_names(settings).values(), 3
        )
