"""The link agent's index on the real Redis: links, parked scans, idempotence."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from projections.links import LinkIndex


@pytest.fixture
async def index() -> AsyncIterator[LinkIndex]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis()
    yield LinkIndex(client, prefix)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _park(index: LinkIndex, number: str, event_id: str, event: bytes) -> None:
    await index.record({}, {number: {event_id: event}})


async def _link(index: LinkIndex, number: str, order_id: str) -> dict[str, bytes]:
    """Record the link, then read what is parked under the number (as the agent's batch does)."""
    await index.record({number: order_id}, {})
    return (await index.lookup((), (number,)))[1].get(number, {})


async def test_a_scan_parked_before_its_shipment_is_handed_back_by_the_link(
    index: LinkIndex,
) -> None:
    assert await index.order_for("1Z1") is None
    await _park(index, "1Z1", "ups:a", b"scan-a")
    await _park(index, "1Z1", "ups:b", b"scan-b")
    await _park(index, "1Z1", "ups:a", b"scan-a")  # re-delivered: still one
    assert await index.parked_count("1Z1") == 2
    released = await _link(index, "1Z1", "O1")
    assert released == {"ups:a": b"scan-a", "ups:b": b"scan-b"}
    assert await index.order_for("1Z1") == "O1"
    # until the forwarded copies are safe, the parked scans stay (a crash re-releases them)
    assert await index.parked_count("1Z1") == 2
    await index.forget({"1Z1": released})
    assert await index.parked_count("1Z1") == 0
    assert await _link(index, "1Z1", "O1") == {}


async def test_numbers_are_independent(index: LinkIndex) -> None:
    await _park(index, "1Z1", "ups:a", b"a")
    assert await _link(index, "1Z2", "O2") == {}
    assert await index.parked_count("1Z1") == 1
    assert await index.order_for("1Z1") is None


async def test_the_link_agents_former_keys_are_adopted(index: LinkIndex) -> None:
    client = index._pipes.client
    legacy = f"{index.keys.prefix}:streams:link"
    await client.set(f"{legacy}:{{1Z1}}", "O1")
    await client.hset(f"{legacy}:{{1Z2}}:parked", mapping={"ups:a": b"scan-a", "ups:b": b"scan-b"})
    await client.set(f"{legacy}:{{1Z3}}", "O-old")
    await _link(index, "1Z3", "O3")  # linked here since: this link wins

    assert await index.adopt_legacy(batch=2) == 3
    assert await index.order_for("1Z1") == "O1"
    assert await index.order_for("1Z3") == "O3"
    assert await index.parked_count("1Z2") == 2
    assert [key async for key in client.scan_iter(f"{legacy}:*")] == []
    assert await index.adopt_legacy() == 0
