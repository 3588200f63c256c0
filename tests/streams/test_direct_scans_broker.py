"""The normalise agent for real (a ``wismo run`` subprocess on the embedded broker): a scan of a
number Redis already links goes straight to the events topic with its order id, one of an
unlinked number to the tracking topic for the link agent; with Redis out of reach, or the
setting off, every scan takes the tracking topic and nothing waits."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.runtime.embedded import free_port
from projections.connections import redis_client
from projections.links import LinkIndex
from tests.api.conftest import read_topic
from tests.streams.harness import WorkerProcess, embedded_stack
from tests.streams.test_brand_normalise_broker import produce
from wismo.settings import Settings
from wismo.topics import EVENTS, TRACKING, RawPayload

pytestmark = pytest.mark.slow

LINKED, UNLINKED, ORDER = "1ZLINKED0001", "1ZNOTYET0002", "ORD-DIRECT-1"


def scans() -> RawPayload:
    events = [
        {
            "event_id": f"ups:{number}:1",
            "source": "ups",
            "kind": "tracking.checkpoint",
            "tracking_number": number,
            "occurred_at": "2026-03-02T09:00:00Z",
            "payload": {"status": "in_transit", "carrier": "ups"},
        }
        for number in (LINKED, UNLINKED)
    ]
    return RawPayload(
        source="oms",
        body=orjson.dumps(events),
        received_at=datetime.now(UTC),
        delivery_id="msg_direct_1",
    )


async def link(settings: Settings) -> None:
    client = await redis_client(settings)
    try:
        await LinkIndex(client, settings.redis.key_prefix).record({LINKED: ORDER}, {})
    finally:
        await client.aclose()


async def where_they_went(settings: Settings) -> dict[str, list[tuple[str, Any]]]:
    """Tracking number → [(topic, the event's order id)], once both scans are out."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found: dict[str, list[tuple[str, Any]]] = {}
        for topic in (EVENTS, TRACKING):
            for record in await read_topic(settings, topic):
                event = orjson.loads(record.value)
                found.setdefault(event["tracking_number"], []).append(
                    (topic, event.get("order_id"))
                )
        if LINKED in found and UNLINKED in found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError("the normalised scans did not arrive within 90 s")


@pytest.mark.parametrize("case", ["linked", "redis out of reach", "setting off"])
def test_a_scan_of_a_linked_number_skips_the_link_agent(tmp_path: Path, case: str) -> None:
    with embedded_stack(tmp_path, partitions=1) as stack:
        asyncio.run(link(stack))
        settings = stack
        if case == "redis out of reach":
            redis = stack.redis.model_copy(update={"url": f"redis://127.0.0.1:{free_port()}/0"})
            settings = stack.model_copy(update={"redis": redis})
        elif case == "setting off":
            kafka = stack.kafka.model_copy(update={"direct_linked_scans": False})
            settings = stack.model_copy(update={"kafka": kafka})
        # the role runs the link agent too: a scan on the tracking topic of a linked number is
        # then forwarded by it as well (when Redis answers it)
        worker = WorkerProcess(settings, "normalise", tmp_path).start()
        try:
            asyncio.run(produce(settings, [scans()]))
            asyncio.run(where_they_went(settings))
            time.sleep(1.0)  # anything else the batch sent is out by now
            found = asyncio.run(where_they_went(settings))
        finally:
            worker.stop()
    assert found[UNLINKED] == [(TRACKING, None)]
    if case == "linked":
        assert found[LINKED] == [(EVENTS, ORDER)]  # never on the tracking topic
    else:
        assert found[LINKED].count((TRACKING, None)) == 1
        assert set(found[LINKED]) <= {(TRACKING, None), (EVENTS, ORDER)}
