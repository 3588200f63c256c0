"""The normalise agent for real (a ``wismo run`` subprocess on the embedded broker): raw records
become order events carrying their brand — the signing brand the API recorded on the raw record,
else the brand of the sales channel — and a stated brand is kept."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.api.conftest import EXAMPLE_ORDER, read_topic
from tests.streams.harness import WorkerProcess, embedded_stack
from wismo.brands import SIGNED_BRAND_HEADER
from wismo.settings import BrandSettings, Settings
from wismo.topics import EVENTS, RAW, RawPayload

pytestmark = pytest.mark.slow

BRANDS = {
    "northwind": BrandSettings(name="Northwind Outfitters", channels=("web", "app")),
    "kaffeeberg": BrandSettings(name="Kaffeehaus Berg", locale="de", channels=("kaffeeberg-web",)),
}


def raw_order(order_id: str, signed_by: str | None = None, **payload: object) -> RawPayload:
    event = orjson.loads(EXAMPLE_ORDER.read_bytes().splitlines()[0])
    event.update(order_id=order_id, event_id=f"oms:{order_id}:placed")
    event["payload"].update(payload)
    return RawPayload(
        source="oms",
        body=orjson.dumps([event]),
        received_at=datetime.now(UTC),
        delivery_id=f"msg_{order_id}",
        http_headers={SIGNED_BRAND_HEADER: signed_by} if signed_by else None,
    )


async def produce(settings: Settings, payloads: list[RawPayload]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for raw in payloads:
            await producer.send_and_wait(
                settings.topic(RAW), raw.body, raw.key, headers=raw.kafka_headers()
            )
    finally:
        await producer.stop()


async def brands_on_events(settings: Settings, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        records = await read_topic(settings, EVENTS)
        found = {
            event["order_id"]: event["payload"].get("brand")
            for event in (orjson.loads(r.value) for r in records)
            if event["kind"] == "order.placed"
        }
        if len(found) >= count:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError("the normalised order events did not arrive within 90 s")


def test_the_normaliser_stamps_each_order_with_its_brand(tmp_path: Path) -> None:
    with embedded_stack(tmp_path, partitions=1) as stack:
        settings = stack.model_copy(update={"brands": BRANDS})
        worker = WorkerProcess(settings, "normalise", tmp_path).start()
        try:
            asyncio.run(
                produce(
                    settings,
                    [
                        raw_order("ORD-SIGNED", "northwind", sales_channel="kaffeeberg-web"),
                        raw_order("ORD-CHANNEL", sales_channel="kaffeeberg-web"),
                        raw_order("ORD-STATED", "northwind", brand="kaffeeberg"),
                        raw_order("ORD-NONE", sales_channel="store"),
                    ],
                )
            )
            found = asyncio.run(brands_on_events(settings, 4))
        finally:
            assert worker.stop() == 0, worker.log_tail()
    assert found == {
        "ORD-SIGNED": "northwind",
        "ORD-CHANNEL": "kaffeeberg",
        "ORD-STATED": "kaffeeberg",
        "ORD-NONE": None,
    }
