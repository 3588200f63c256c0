"""Training over ClickHouse: the SQL sees each scan as the live fold does, counts every sample,
and the stored model comes back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.orders import LANES, stories
from cli.runtime.predict import (
    baseline,
    held_out_scans,
    latest_model,
    load_histories,
    read_model_file,
    save_model,
    train,
    write_model_file,
)
from projections.clickhouse_store import ClickHouse
from projections.predict.model import LEVELS, Level, features_of, forecast
from projections.timeline import fold
from wismo.events import Event

EARLY = datetime(2020, 1, 1, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


async def _load(clickhouse: ClickHouse, orders: int) -> dict[str, tuple[str, list[Event]]]:
    told = list(stories(orders, seed=5, mix=LANES, order_id="TR-{index:05d}"))
    histories = [(story.order_id, story.events()) for story in told]
    await clickhouse.run(load_histories, clickhouse.client, clickhouse.database, histories)
    by_parcel = {}
    for story, (order_id, events) in zip(told, histories, strict=True):
        for parcel in story.parcels:
            by_parcel[parcel.tracking_number] = (order_id, events)
    return by_parcel


async def test_sql_features_match_the_fold(clickhouse: ClickHouse) -> None:
    by_parcel = await _load(clickhouse, 60)
    samples = await clickhouse.run(
        held_out_scans, clickhouse.client, clickhouse.database, start=EARLY, until=LATER
    )
    assert len({s.parcel for s in samples}) > 40
    for sample in samples:
        order_id, events = by_parcel[sample.parcel]
        timeline = fold([e for e in events if e.occurred_at <= sample.at], order_id)
        [shipment] = [s for s in timeline.shipments if s.tracking_number == sample.parcel]
        found = features_of(shipment)
        assert found is not None
        assert found == (sample.features, sample.at)
        assert sample.delivered == shipment.delivered_at or shipment.delivered_at is None


async def test_training_counts_every_sample(clickhouse: ClickHouse) -> None:
    await _load(clickhouse, 80)
    db = clickhouse.database
    samples = await clickhouse.run(held_out_scans, clickhouse.client, db, start=EARLY, until=LATER)
    model = await clickhouse.run(
        train, clickhouse.client, db, until=LATER, window_days=20 * 365, min_samples=1
    )
    assert model.samples == len(samples)
    assert model.parcels == len({s.parcel for s in samples})
    for level in LEVELS:
        assert sum(d.samples for d in model.groups[level].values()) == len(samples)
    by_status = Counter(s.features.status.value for s in samples)
    assert {k: d.samples for k, d in model.groups[Level.STATUS].items()} == dict(by_status)
    sample = samples[0]
    outlook = forecast(model, sample.features, sample.at, sample.at)
    assert outlook is not None
    assert outlook.basis.level is Level.FULL  # min_samples 1: the most specific group answers
    thin = await clickhouse.run(
        train, clickhouse.client, db, until=LATER, window_days=20 * 365, min_samples=50
    )
    assert all(d.samples >= 50 for level in LEVELS[:-1] for d in thin.groups[level].values())
    medians = await clickhouse.run(baseline, clickhouse.client, db, until=LATER, window_days=7300)
    assert set(medians) == {s.features.carrier for s in samples} | {"*"}
    nothing = await clickhouse.run(
        train, clickhouse.client, db, until=EARLY, window_days=30, min_samples=1
    )
    assert nothing.samples == 0
    assert forecast(nothing, sample.features, sample.at, sample.at) is None


async def test_models_are_stored_and_read_back(clickhouse: ClickHouse, tmp_path: Path) -> None:
    await _load(clickhouse, 20)
    db = clickhouse.database
    assert await clickhouse.run(latest_model, clickhouse.client, db) is None
    first = await clickhouse.run(
        train,
        clickhouse.client,
        db,
        until=LATER,
        window_days=7300,
        min_samples=5,
        now=datetime(2026, 7, 1, tzinfo=UTC),
    )
    second = await clickhouse.run(
        train,
        clickhouse.client,
        db,
        until=LATER - timedelta(days=1),
        window_days=7300,
        min_samples=5,
        now=datetime(2026, 7, 2, tzinfo=UTC),
    )
    for model in (first, second):
        await clickhouse.run(save_model, clickhouse.client, db, model)
    assert await clickhouse.run(latest_model, clickhouse.client, db) == second
    path = tmp_path / "predict" / "model.json"
    assert read_model_file(path) is None
    write_model_file(path, first)
    assert read_model_file(path) == first
