"""``POST /v1/agent/erasures`` and the on-demand re-read of expired orders: in the process that
holds chDB (run apart: one engine per process) they work; elsewhere they answer with the reason."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, agent_token, example_order
from wismo.settings import ClickHouseSettings, RetentionSettings, Settings

ROOT = Path(__file__).parents[2]


async def test_erasure_and_re_read_in_the_process_holding_chdb(
    broker: str, prefix: str, redis: aioredis.Redis, tmp_path: Path
) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.api.erasure_app", broker, prefix, str(tmp_path / "chdb")],
        cwd=ROOT, env=dict(os.environ), capture_output=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    answers = orjson.loads(done.stdout)

    status, detail = answers["reread"]
    assert status == 200
    assert detail["timeline"]["order_id"] == answers["final"]
    assert detail["events"]
    assert answers["supervisor"][0] == 403
    assert answers["two"][0] == 400
    status, report = answers["admin"]
    assert status == 200
    assert report["orders"] == ["ORD-3"]
    assert (report["subject"], report["requested_by"]) == ("email", "dpo-1")
    assert "customer3@example.com" not in orjson.dumps(report).decode()
    assert answers["logged"]
    assert answers["held"]
    for document in answers["logged"] + answers["held"]:
        assert "customer3@example.com" not in document
        assert "postal_code" not in document


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """ClickHouse is chDB at a path no process holds; orders expire a second after they end."""
    return settings.model_copy(
        update={
            "clickhouse": ClickHouseSettings(chdb_path=tmp_path / "chdb"),
            "retention": RetentionSettings(redis_days=1 / 86400),
        }
    )


async def test_without_clickhouse_expired_reads_are_404_and_erasure_503_with_the_reason(
    client: Client, redis: aioredis.Redis, prefix: str, settings: Settings
) -> None:
    events = example_order()
    order_id = events[0].order_id or ""
    store = RedisTimelineStore(redis, prefix, retention_s=settings.retention.redis_s)
    await store.apply(events)
    headers = {"Authorization": f"Bearer {agent_token('agent')}"}
    assert (await client.get(f"/v1/agent/orders/{order_id}", headers=headers)).status == 200
    await asyncio.sleep(settings.retention.redis_s + 1.2)

    expired = await client.get(f"/v1/agent/orders/{order_id}", headers=headers)
    assert expired.status == 404
    reason = (await expired.json())["reason"]
    assert "expired" in reason
    assert "no process holds the chDB path" in reason
    unknown = await client.get("/v1/agent/orders/never-seen", headers=headers)
    assert (await unknown.json())["reason"] == "order never-seen is not known"

    admin = {"Authorization": f"Bearer {agent_token('admin')}"}
    erase = await client.post("/v1/agent/erasures", json={"order_id": order_id}, headers=admin)
    assert erase.status == 503
    assert "chDB" in (await erase.json())["reason"]
