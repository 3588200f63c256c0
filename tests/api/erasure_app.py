"""The API in the process that holds chDB (as under ``wismo up``), for the erasure and re-read
tests: ``python -m tests.api.erasure_app BROKER PREFIX CHDB_PATH`` loads orders into ClickHouse
and Redis, calls the API, and prints what it answered as JSON (one engine per process, so this
runs apart from the test process)."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from projections.clickhouse_store import ClickHouse, ClickHouseStore
from projections.redis_store import RedisTimelineStore
from projections.retention import FINAL_STATUSES
from projections.timeline import fold
from tests.api.conftest import REDIS_URL, agent_token, make_settings
from tests.projections.synthetic import order_history
from wismo.settings import ClickHouseSettings, RetentionSettings
from wismo.topics import ensure_topics

KEEP_DAYS = 1 / 86400  # one second


async def main(broker: str, prefix: str, chdb: Path) -> dict[str, Any]:
    settings = make_settings(broker, prefix).model_copy(
        update={
            "clickhouse": ClickHouseSettings(chdb_path=chdb),
            "retention": RetentionSettings(redis_days=KEEP_DAYS),
        }
    )
    await ensure_topics(settings)
    rng = random.Random(2)
    histories = [order_history(index, rng) for index in range(6)]
    final = next(h for h in histories if fold(h, h[0].order_id or "").status in FINAL_STATUSES)
    ch = await ClickHouse.connect(settings)  # holds the chDB path, as the warehouse role does
    redis = aioredis.Redis.from_url(REDIS_URL)
    answers: dict[str, Any] = {"final": final[0].order_id}
    try:
        events = [e for h in histories for e in h]
        await ClickHouseStore(ch).apply(events)
        await RedisTimelineStore(redis, prefix, retention_s=settings.retention.redis_s).apply(
            events
        )
        async with TestClient(TestServer(create_app(settings))) as client:
            await asyncio.sleep(settings.retention.redis_s + 1.2)
            read = await client.get(
                f"/v1/agent/orders/{final[0].order_id}",
                headers={"Authorization": f"Bearer {agent_token('agent')}"},
            )
            answers["reread"] = [read.status, await read.json()]
            for name, roles, body in (
                ("supervisor", ("supervisor",), {"email": "customer3@example.com"}),
                ("two", ("admin",), {"email": "customer3@example.com", "order_id": "ORD-1"}),
                ("admin", ("admin",), {"email": "customer3@example.com"}),
            ):
                answer = await client.post(
                    "/v1/agent/erasures",
                    json=body,
                    headers={"Authorization": f"Bearer {agent_token(*roles, sub='dpo-1')}"},
                )
                answers[name] = [answer.status, await answer.json()]
        stored = await ch.rows("SELECT event_json FROM {db}.events WHERE order_id = 'ORD-3'")
        answers["logged"] = [document for (document,) in stored]
        held = await redis.hgetall(f"{prefix}:{{ORD-3}}:events")
        answers["held"] = [value.decode() for value in held.values()]
    finally:
        await redis.aclose()
        await ch.close()
    return answers


if __name__ == "__main__":
    report = asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
    sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
