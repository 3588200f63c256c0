"""The analytics page's notifications panel: the exact request it makes is answered by the API
from ClickHouse (chDB, in this process) with the reference numbers, for an agent token only."""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from projections.clickhouse_schema import migrate
from projections.clickhouse_store import ClickHouse, ClickHouseWriter
from projections.facts import EXCEPTION_COLUMNS
from tests.projections.notification_data import (
    DAYS,
    START,
    Generated,
    exception_rows,
    generate,
    reference,
)
from wismo.settings import ApiSettings, ClickHouseSettings, RedisSettings, Settings

SECRET = "notification-analytics-tests-secret-0123456789"
STATIC = Path(__file__).parents[2] / "api" / "static" / "analytics"


class _NoProducer:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("analytics never writes to the broker")

    async def stop(self) -> None:
        return None


@pytest.fixture
async def served(
    chdb_client: Any,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Generated]]:
    database = f"wismo_notify_api_{uuid.uuid4().hex[:10]}"
    migrate(chdb_client, database)
    data = generate(random.Random(31), 150)
    ch = ClickHouse(chdb_client, database)
    writer = ClickHouseWriter(ch)
    await writer.add_notifications(data.records + data.records[:40])
    await writer.flush()
    await ch.close()
    chdb_client.insert(
        "exceptions", exception_rows(data), column_names=list(EXCEPTION_COLUMNS), database=database
    )
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    settings = Settings(
        redis=RedisSettings(url="redis://127.0.0.1:6379/0", key_prefix=prefix),
        clickhouse=ClickHouseSettings(chdb_path=Path(chdb_client.path), database=database),
        api=ApiSettings(agent_jwt_secret=SecretStr(SECRET)),
    )
    redis = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    app = create_app(settings, redis=redis, producer=_NoProducer())
    try:
        async with TestClient(TestServer(app)) as client:
            yield client, data
    finally:
        await redis.aclose()
        chdb_client.command(f"DROP DATABASE IF EXISTS {database}")


def _token(roles: list[str]) -> str:
    exp = datetime.now(UTC) + timedelta(minutes=5)
    return jwt.encode({"sub": "analyst", "roles": roles, "exp": exp}, SECRET)


def _panel_query() -> str:
    """The notifications request of analytics.js, with the period filled in."""
    script = (STATIC / "analytics.js").read_text()
    (template,) = re.findall(r"api\(`(/v1/analytics/sla\?[^`]*section=notify_[^`]*)`", script)
    assert isinstance(template, str)
    first, last = START.date(), START.date() + timedelta(DAYS - 1)
    filled = template.replace("${from}", first.isoformat()).replace("${to}", last.isoformat())
    return filled.replace("${brand}", "")  # every brand: the page's default


def _close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_close, actual, expected))
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


async def test_the_panel_request_returns_the_reference_numbers(
    served: tuple[TestClient[web.Request, web.Application], Generated],
) -> None:
    client, data = served
    response = await client.get(
        _panel_query(), headers={"Authorization": f"Bearer {_token(['viewer'])}"}
    )
    assert response.status == 200, await response.text()
    report = await response.json()
    expected = reference(data, START, START + timedelta(DAYS))
    (delay,) = report["notify_delay"]
    for name, value in expected["notify_delay"].items():
        assert _close(delay[name], value), name
    messages = {row["channel"]: row for row in report["notify_messages"]}
    assert _close(
        messages["all"]["messages_per_order"],
        expected["notify_messages"]["all"]["messages_per_order"],
    )
    webhooks = {row["endpoint"]: row["success_rate"] for row in report["notify_webhooks"]}
    assert webhooks == pytest.approx(
        {name: row["success_rate"] for name, row in expected["notify_webhooks"].items()}
    )
    assert "delivery" not in report


async def test_the_panel_needs_an_agent_token(
    served: tuple[TestClient[web.Request, web.Application], Generated],
) -> None:
    client, _ = served
    assert (await client.get(_panel_query())).status == 401


def test_the_page_has_the_notifications_panel() -> None:
    page = (STATIC / "index.html").read_text()
    assert 'id="notifications"' in page
    script = (STATIC / "analytics.js").read_text()
    for kpi in ("detected_to_notified", "notified_rate", "messages_per_order", "suppressed"):
        assert f'"data-kpi": "{kpi}"' in script
