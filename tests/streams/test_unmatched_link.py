"""A hand link for real: scans with no order are parked by the link agent (a ``wismo run``
subprocess on the embedded broker), listed by the API, linked by an agent's POST; the link agent
reads the ``shipment.linked`` from the tracking topic, releases the scans onto the order, and
the number leaves the unmatched list."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from api.app import create_app
from api.keys import STORE
from tests.api.conftest import AGENT_SECRET, agent_token, example_order
from tests.streams.harness import WorkerProcess, embedded_stack
from wismo.events import Event, event_from_dict
from wismo.settings import ApiSettings, Settings
from wismo.topics import route

pytestmark = pytest.mark.slow

ORDER = "ORD-1001"
NUMBER = "JJD0099887766"


def lost_scans() -> list[Event]:
    return [
        event_from_dict(
            {
                "event_id": f"dhl:{NUMBER}:{minute}",
                "source": "dhl",
                "kind": "tracking.checkpoint",
                "tracking_number": NUMBER,
                "occurred_at": f"2026-03-03T08:{minute:02d}:00Z",
                "payload": {"status": status, "carrier": "dhl"},
            }
        )
        for minute, status in ((5, "info_received"), (40, "in_transit"))
    ]


async def produce(settings: Settings, events: list[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for event in events:
            for out in route(event):
                await producer.send_and_wait(settings.topic(out.topic), out.value, out.key.encode())
    finally:
        await producer.stop()


async def until(check: Any, within_s: float, what: str) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {within_s} s")


async def scenario(settings: Settings) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {agent_token('agent', sub='agent-3')}"}
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        store = app[STORE]
        await produce(settings, [*example_order(), *lost_scans()])

        async def listed() -> list[Any]:
            body = await (await client.get("/v1/agent/unmatched?q=dhl", headers=headers)).json()
            numbers: list[Any] = body["numbers"]
            return numbers

        (row,) = await until(listed, 60, "the parked number's listing")
        assert (row["tracking_number"], row["scans"], row["latest_status"]) == (
            NUMBER,
            2,
            "in_transit",
        )
        await until(lambda: store.timeline(ORDER), 60, "the order's timeline")
        response = await client.post(
            f"/v1/agent/unmatched/{NUMBER}/link",
            json={"order_id": ORDER, "carrier": "dhl", "note": "second parcel"},
            headers=headers,
        )
        assert response.status == 202, await response.text()

        async def linked_shipment() -> dict[str, Any] | None:
            raw = await store.timeline(ORDER)
            shipments = orjson.loads(raw or b"{}").get("shipments", [])
            found = [s for s in shipments if s.get("tracking_number") == NUMBER]
            return found[0] if found and len(found[0]["checkpoints"]) == 2 else None

        shipment: dict[str, Any] = await until(linked_shipment, 60, "the released scans")
        assert await listed() == []
        assert await store.links.order_for(NUMBER) == ORDER
        return shipment


def test_a_hand_link_releases_the_parked_scans_onto_the_order(tmp_path: Path) -> None:
    with embedded_stack(tmp_path, partitions=2) as stack:
        api = ApiSettings(agent_jwt_secret=SecretStr(AGENT_SECRET))
        settings = stack.model_copy(update={"api": api})
        worker = WorkerProcess(stack, "normalise,timeline", tmp_path).start()
        try:
            shipment = asyncio.run(scenario(settings))
        finally:
            worker.stop()
    assert shipment["shipment_id"] == f"linked:{NUMBER}"
    assert shipment["linked_by"] == "agent-3"
    assert shipment["status"] == "in_transit"
