"""A dropped webhook healed by polling, through the real pipeline: Shopify webhooks on the Tansu
broker → worker subprocess (normalise, link, timeline, poll) → a local server answering like the
UPS Track API → the poll publishes the answer on the raw topic → the Redis timeline.

The UPS scans are never pushed (the webhook is "lost"): the timeline can only learn them from
the poll, which runs one cadence interval after the shipment appears.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from bench.history import publish
from carriers.registry import get
from projections.exception_flow import timeline_from_json
from projections.poll.index import PollIndex
from projections.timeline_model import Timeline
from tests.carriers.carrier_server import CarrierServer, carrier_server
from tests.streams.harness import WorkerProcess, embedded_stack, wait_until
from wismo.settings import CarrierCredentials, PollSettings, Settings
from wismo.topics import RawPayload

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[2] / "carriers"
NUMBER = "1Z5338FF0107231059"
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
CADENCE_S = 2.0


@contextmanager
def ups_api() -> Iterator[CarrierServer]:
    """The recorded UPS server, on its own loop in a thread (the test itself is synchronous)."""
    ready = threading.Event()
    held: dict[str, Any] = {}

    async def serve() -> None:
        async with carrier_server() as server:
            server.answer(
                "POST", "/security/v1/oauth/token", {"access_token": "t", "expires_in": 600}
            )
            recorded = orjson.loads((FIXTURES / "ups" / "track_delivered.json").read_bytes())
            server.answer("GET", f"/api/track/v1/details/{NUMBER}", recorded)
            held.update(server=server, stop=asyncio.Event(), loop=asyncio.get_running_loop())
            ready.set()
            await held["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield held["server"]
    finally:
        held["loop"].call_soon_threadsafe(held["stop"].set)
        thread.join(10)


def _shopify(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "shopify" / f"{name}.json").read_text())
    return loaded


def _webhooks() -> tuple[str, list[RawPayload]]:
    """The order and its fulfilment (naming the UPS parcel); the order's id as parsed."""
    order = _shopify("order_create")
    fulfillment = _shopify("fulfillment_create_two_parcels") | {
        "tracking_company": "UPS",
        "tracking_number": NUMBER,
        "tracking_numbers": [NUMBER],
        "tracking_urls": [],
        "shipment_status": None,
        "line_items": order["line_items"],
    }
    bodies = [(order, "orders/create"), (fulfillment, "fulfillments/create")]
    payloads = [
        RawPayload(
            source="shopify",
            body=orjson.dumps(body),
            received_at=RECEIVED_AT,
            delivery_id=f"shopify-{n}",
            http_headers={"x-shopify-topic": topic},
        )
        for n, (body, topic) in enumerate(bodies)
    ]
    (placed, *_) = (
        get("shopify")
        .parse(payloads[0].body, {"x-shopify-topic": "orders/create"}, RECEIVED_AT)
        .events
    )
    assert placed.order_id is not None
    return placed.order_id, payloads


def _polling(settings: Settings, base_url: str) -> Settings:
    ups = CarrierCredentials(
        base_url=base_url, client_id="id", client_secret=SecretStr("secret"), rate_per_s=50
    )
    poll = PollSettings(
        carriers={"ups": ups},
        in_transit_s=CADENCE_S,
        interval_s=0.25,
        max_age_days=36500,  # the recorded parcel shipped years ago
    )
    return settings.model_copy(update={"poll": poll})


def _timeline(settings: Settings, order_id: str) -> Timeline | None:
    from projections.connections import redis_client
    from projections.redis_store import RedisTimelineStore

    async def read() -> bytes | None:
        client = await redis_client(settings)
        try:
            return await RedisTimelineStore(client, settings.redis.key_prefix).timeline(order_id)
        finally:
            await client.aclose()

    document = asyncio.run(read())
    return None if document is None else timeline_from_json(document)


def _shipment_status(settings: Settings, order_id: str) -> str | None:
    timeline = _timeline(settings, order_id)
    if timeline is None or not timeline.shipments:
        return None
    return timeline.shipments[0].status.value


def test_a_dropped_webhook_is_healed_by_the_poll_within_one_cycle(tmp_path: Path) -> None:
    order_id, webhooks = _webhooks()
    with ups_api() as ups, embedded_stack(tmp_path) as stack:
        settings = _polling(stack, ups.base_url)
        worker = WorkerProcess(settings, "normalise,timeline,poll", tmp_path).start()
        try:
            asyncio.run(publish(settings, webhooks))
            shipped = wait_until(
                lambda: _shipment_status(settings, order_id) is not None,
                120,
                workers=(worker,),
            )
            assert shipped, worker.log_tail()
            appeared = time.monotonic()
            healed = wait_until(
                lambda: _shipment_status(settings, order_id) == "delivered",
                60,
                every_s=0.25,
                workers=(worker,),
            )
            assert healed, worker.log_tail()
            # one cadence interval, one poll round, and the hops through the pipeline
            assert time.monotonic() - appeared < CADENCE_S + 15
            timeline = _timeline(settings, order_id)
            assert timeline is not None
            assert "ups" in timeline.sources
            # delivered: the parcel leaves the poll index
            assert wait_until(lambda: _polled(settings) == 0, 30, workers=(worker,))
        finally:
            assert worker.stop() == 0, worker.log_tail()
    assert ups.calls_to(f"/api/track/v1/details/{NUMBER}")


def _polled(settings: Settings) -> int:
    from projections.connections import redis_client

    async def count() -> int:
        client = await redis_client(settings)
        try:
            return await PollIndex(client, settings.redis.key_prefix).pending()
        finally:
            await client.aclose()

    return asyncio.run(count())
