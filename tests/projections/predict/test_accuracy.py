"""Predicted vs actual over ClickHouse (chDB), loaded the way the warehouse writes it (every event
twice, older timeline versions too), against the numbers worked out by hand."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from projections.clickhouse_schema import migrate
from projections.clickhouse_store import COLUMNS, ClickHouse
from projections.facts import EVENT_COLUMNS, change_rows, event_row
from projections.predict.accuracy import AccuracyQuery, accuracy_rows
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from tests.projections.predict.test_live import predicted
from tests.projections.test_exceptions import Story, hours
from wismo.events import Event
from wismo.settings import ApiSettings, ClickHouseSettings, RedisSettings, Settings


def _history(order: str, carrier: str, days: list[str], delivered_h: float) -> list[Event]:
    story = Story(order_id=order, tracking=f"1Z{order}0000").placed().fulfilment()
    story.shipped(carrier=carrier, carrier_edd="2026-03-04")
    story.scan(hours(3), "in_transit")
    for n, day in enumerate(days):
        predicted(story, 0.2, at=hours(4 + n), as_of=hours(3 + n), day=day)
    story.scan(hours(delivered_h), "delivered")
    predicted(story, 0.2, at=hours(delivered_h + 1), day="2026-03-20")  # after: not counted
    return story.events


def _change(events: list[Event]) -> TimelineChange:
    t = fold(events)
    return TimelineChange(t.order_id, t.version, t.digest, t.status.value, timeline_to_json(t))


async def test_mae_by_carrier(clickhouse: ClickHouse) -> None:
    # T0 is Mon 2 Mar 08:00; delivered Thu 5 Mar (hour 74) and Fri 6 Mar (hour 98)
    histories = [
        _history("A1", "ups", ["2026-03-04", "2026-03-05"], 74),  # first off by 1, last exact
        _history("A2", "ups", ["2026-03-03"], 98),  # off by 3; EDD off by 2
        _history("B1", "dhl", ["2026-03-05"], 74),  # exact; EDD off by 1
    ]
    client, db = clickhouse.client, clickhouse.database
    rows = [event_row(e) for events in histories for e in events]
    client.insert("events", rows + rows, column_names=list(EVENT_COLUMNS), database=db)
    changes = [_change(events[:-3]) for events in histories] + [_change(e) for e in histories]
    for table, table_rows in change_rows(changes).items():
        client.insert(table, table_rows, column_names=list(COLUMNS[table]), database=db)

    found: list[dict[str, Any]] = await clickhouse.run(
        accuracy_rows, client, db, AccuracyQuery(date(2026, 3, 1), date(2026, 3, 31))
    )
    by_carrier = {row["carrier"]: row for row in found}
    assert set(by_carrier) == {"ups", "dhl"}
    ups, dhl = by_carrier["ups"], by_carrier["dhl"]
    assert (ups["shipments"], ups["predictions"]) == (2, 3)
    assert ups["mae_first_days"] == 2.0  # (1 + 3) / 2
    assert ups["mae_last_days"] == 1.5  # (0 + 3) / 2
    assert ups["bias_last_days"] == 1.5  # delivered later than estimated
    assert ups["mae_carrier_edd_days"] == 1.5  # (1 + 2) / 2
    # the test window runs Wed 4 Mar 08:00 to Fri 6 Mar 18:00: both delivered inside it
    assert ups["in_window"] == 1.0
    assert (dhl["shipments"], dhl["mae_last_days"], dhl["mae_carrier_edd_days"]) == (1, 0.0, 1.0)
    # a period without deliveries
    none = await clickhouse.run(
        accuracy_rows, client, db, AccuracyQuery(date(2026, 4, 1), date(2026, 4, 30))
    )
    assert none == []


SECRET = "prediction-analytics-tests-secret-0123456789"


class _NoProducer:
    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("analytics never writes to the broker")

    async def stop(self) -> None:
        return None


async def test_the_analytics_page_request(chdb_client: Any) -> None:
    database = f"wismo_predict_api_{uuid.uuid4().hex[:10]}"
    migrate(chdb_client, database)
    rows = [event_row(e) for e in _history("C1", "ups", ["2026-03-04"], 74)]
    chdb_client.insert("events", rows, column_names=list(EVENT_COLUMNS), database=database)
    for table, table_rows in change_rows(
        [_change(_history("C1", "ups", ["2026-03-04"], 74))]
    ).items():
        chdb_client.insert(table, table_rows, column_names=list(COLUMNS[table]), database=database)
    settings = Settings(
        redis=RedisSettings(url="redis://127.0.0.1:6379/0", key_prefix=f"wismo-test-{database}"),
        clickhouse=ClickHouseSettings(chdb_path=Path(chdb_client.path), database=database),
        api=ApiSettings(agent_jwt_secret=SecretStr(SECRET)),
    )
    redis = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    script = (
        Path(__file__).parents[3] / "api" / "static" / "analytics" / "analytics.js"
    ).read_text()
    (template,) = re.findall(r"api\(`(/v1/analytics/predictions\?[^`]*)`", script)
    path = template.replace("${from}", "2026-03-01").replace("${to}", "2026-03-31")
    exp = datetime.now(UTC) + timedelta(minutes=5)
    token = jwt.encode({"sub": "analyst", "roles": ["viewer"], "exp": exp}, SECRET)
    try:
        app = create_app(settings, redis=redis, producer=_NoProducer())
        async with TestClient(TestServer(app)) as client:
            assert (await client.get(path)).status == 401
            response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status == 200, await response.text()
            (row,) = (await response.json())["carriers"]
            assert (row["carrier"], row["shipments"], row["mae_last_days"]) == ("ups", 1, 1.0)
            bad = await client.get(
                "/v1/analytics/predictions?from=2026-03-01",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert bad.status == 400
    finally:
        await redis.aclose()
        chdb_client.command(f"DROP DATABASE IF EXISTS {database}")


async def test_workers_read_the_newest_trained_model(clickhouse: ClickHouse) -> None:
    """The query a worker with a ClickHouse server runs (streams.predict_models)."""
    from projections.predict.live import ModelCache
    from projections.predict.model import model_to_json
    from streams.predict_models import LATEST_MODEL_SQL
    from tests.projections.predict.test_live import linear_model

    assert await clickhouse.rows(LATEST_MODEL_SQL) == []
    older, newer = linear_model(24, 120), linear_model(10, 50)
    for at, model in ((hours(0), older), (hours(5), newer), (hours(0), older)):
        row = [model.version, at, model.trained_from, model.trained_until, model.min_samples]
        row += [model.samples, model.parcels, model.group_count(), model_to_json(model).decode()]
        clickhouse.client.insert("prediction_models", [row], database=clickhouse.database)

    async def load() -> str:
        ((document,),) = await clickhouse.rows(LATEST_MODEL_SQL)
        return str(document)

    found = await ModelCache(load, refresh_s=300).current(hours(6))
    assert found is not None
    assert found.version == newer.version
