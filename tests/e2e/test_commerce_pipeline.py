"""A Shopify order tracked by EasyPost, through the real pipeline: raw webhooks on the Tansu
broker → worker subprocess (normalise, link, timeline) → the Redis timeline.

The order and its fulfilment come from Shopify (the fulfilment names the tracking number); the
carrier scans for that number come from EasyPost, and arrive first.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.history import publish
from carriers.registry import get
from projections.serialize import timeline_to_json
from projections.timeline import fold
from tests.streams.harness import WorkerProcess, embedded_stack, timeline_mismatches, wait_until
from wismo.events import Event
from wismo.topics import RawPayload

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[1] / "carriers"
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)


def _shopify_body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "shopify" / f"{name}.json").read_text())
    return loaded


def _payloads() -> tuple[list[RawPayload], list[Event]]:
    order = _shopify_body("order_create")
    easypost = (FIXTURES / "easypost" / "delivered.json").read_bytes()
    number = json.loads(easypost)["result"]["tracking_code"]
    fulfillment = _shopify_body("fulfillment_create_two_parcels") | {
        "tracking_company": "USPS",
        "tracking_number": number,
        "tracking_numbers": [number],
        "tracking_urls": [],
        "shipment_status": None,
        "line_items": order["line_items"],
    }
    raw = [
        ("easypost", easypost, {}),
        ("shopify", orjson.dumps(order), {"x-shopify-topic": "orders/create"}),
        ("shopify", orjson.dumps(fulfillment), {"x-shopify-topic": "fulfillments/create"}),
        ("easypost", easypost, {}),  # re-delivered
    ]
    messages, expected = [], []
    for index, (source, body, headers) in enumerate(raw):
        messages.append(
            RawPayload(
                source=source,
                body=body,
                received_at=RECEIVED_AT,
                delivery_id=f"{source}-{index}",
                http_headers=headers,
            )
        )
        expected += get(source).parse(body, headers, RECEIVED_AT).events
    return messages, expected


def test_shopify_order_tracked_by_easypost_is_complete_in_redis(tmp_path: Path) -> None:
    messages, events = _payloads()
    timeline = fold(events)
    assert timeline.status.value == "delivered"  # the pure expectation is itself meaningful
    expected = {timeline.order_id: timeline_to_json(timeline)}
    with embedded_stack(tmp_path) as settings:
        worker = WorkerProcess(settings, "normalise,timeline", tmp_path).start()
        try:
            asyncio.run(publish(settings, messages))
            converged = wait_until(
                lambda: not timeline_mismatches(settings, expected),
                120,
                every_s=1,
                workers=(worker,),
            )
            assert converged, worker.log_tail()
        finally:
            assert worker.stop() == 0, worker.log_tail()
    (shipment,) = timeline.shipments
    assert shipment.carrier == "usps"
    assert timeline.sources == ["easypost", "shopify"]
    assert timeline.orphan_checkpoints == []
