"""``GET /v1/analytics/sla`` by brand: ``?brand=`` narrows the report, and an agent restricted to
some brands gets their brands' numbers only (404 for another brand), checked against the
independent computation of the same data filtered by brand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from tests.projections.sla_data import (
    delivery_reference,
    exceptions_reference,
    load_into,
    of_brands,
)
from wismo.settings import (
    ApiSettings,
    BrandSettings,
    ClickHouseSettings,
    RedisSettings,
    Settings,
)

SECRET = "sla-brand-api-tests-secret-0123456789abcdef"
START, END = date(2026, 3, 1), date(2026, 3, 31)
PERIOD = f"/v1/analytics/sla?from={START}&to={END}&section=delivery,exceptions,agent_response"

Served = tuple[TestClient[web.Request, web.Application], list[dict[str, Any]]]


class _NoProducer:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("analytics never writes to the broker")

    async def stop(self) -> None:
        return None


@pytest.fixture(scope="module")
def timelines(chdb_client: Any) -> tuple[str, list[dict[str, Any]]]:
    database = f"wismo_sla_brand_{uuid.uuid4().hex[:10]}"
    return database, load_into(chdb_client, database, 150, seed=230)


@pytest.fixture
async def served(
    chdb_client: Any, timelines: tuple[str, list[dict[str, Any]]]
) -> AsyncIterator[Served]:
    database, documents = timelines
    settings = Settings(
        redis=RedisSettings(
            url="redis://127.0.0.1:6379/0", key_prefix=f"wismo-test-{uuid.uuid4().hex[:12]}"
        ),
        clickhouse=ClickHouseSettings(chdb_path=Path(chdb_client.path), database=database),
        api=ApiSettings(agent_jwt_secret=SecretStr(SECRET)),
        brands={
            "northwind": BrandSettings(name="Northwind Outfitters"),
            "kaffeeberg": BrandSettings(name="Kaffeehaus Berg", locale="de"),
        },
    )
    redis = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    app = create_app(settings, redis=redis, producer=_NoProducer())
    try:
        async with TestClient(TestServer(app)) as client:
            yield client, documents
    finally:
        await redis.aclose()


def _headers(brands: list[str] | None) -> dict[str, str]:
    claims: dict[str, Any] = {
        "sub": "analyst",
        "roles": ["viewer"],
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    if brands is not None:
        claims["brands"] = brands
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET)}"}


def _exceptions_opened(documents: list[dict[str, Any]]) -> int:
    return sum(
        1
        for t in documents
        for e in t["exceptions"]
        if e.get("opened_at") and START <= datetime.fromisoformat(e["opened_at"]).date() <= END
    )


def _assert_report_of(report: dict[str, Any], documents: list[dict[str, Any]]) -> None:
    (delivery,) = report["delivery"]
    (expected,) = delivery_reference(documents, START, END, ()).values()
    assert delivery["shipments"] == expected["shipments"] > 0
    assert delivery["delivered"] == expected["delivered"]
    exceptions = {(r["type"], r["reason"]): r["exceptions"] for r in report["exceptions"]}
    reference = exceptions_reference(documents, START, END, ())
    assert exceptions == {key: row["exceptions"] for key, row in reference.items()}
    (everyone,) = [r for r in report["agent_response"] if r["scope"] == "all"]
    assert everyone["exceptions"] == _exceptions_opened(documents)


async def test_a_restricted_agent_gets_only_their_brands_numbers(served: Served) -> None:
    client, documents = served
    response = await client.get(PERIOD, headers=_headers(["northwind"]))
    assert response.status == 200, await response.text()
    report = await response.json()
    assert report["brands"] == ["northwind"]
    assert report["brand_options"] == [{"id": "northwind", "name": "Northwind Outfitters"}]
    _assert_report_of(report, of_brands(documents, frozenset({"northwind"})))


@pytest.mark.parametrize("asked", ["kaffeeberg", "northwind,kaffeeberg", ""])
async def test_a_restricted_agent_asking_for_another_brand_gets_404(
    served: Served, asked: str
) -> None:
    client, _ = served
    query = f"{PERIOD}&brand={asked}" if asked else f"{PERIOD}&brand=%20,kaffeeberg"
    response = await client.get(query, headers=_headers(["northwind"]))
    assert response.status == 404
    assert "shipments" not in await response.text()


async def test_an_agent_without_brands_sees_nothing(served: Served) -> None:
    client, _ = served
    response = await client.get(PERIOD, headers=_headers([]))
    assert response.status == 200
    report = await response.json()
    assert report["brand_options"] == []
    assert report["delivery"][0]["shipments"] == 0
    assert report["exceptions"] == []


async def test_an_unrestricted_agent_chooses_a_brand_or_all(served: Served) -> None:
    client, documents = served
    response = await client.get(f"{PERIOD}&brand=kaffeeberg", headers=_headers(None))
    assert response.status == 200
    report = await response.json()
    assert report["brands"] == ["kaffeeberg"]
    _assert_report_of(report, of_brands(documents, frozenset({"kaffeeberg"})))
    whole = await (await client.get(PERIOD, headers=_headers(None))).json()
    assert whole["brands"] is None
    assert [o["id"] for o in whole["brand_options"]] == ["kaffeeberg", "northwind"]
    _assert_report_of(whole, documents)
