"""Predictive delivery over ClickHouse: train a model, store it, backtest it (docs/prediction.md).

Training is the SQL of :mod:`projections.predict.training` (aggregates computed by ClickHouse,
the log never leaves it); the rows it returns — one per group — become a
:class:`~projections.predict.model.Model`. A model is stored in ``{db}.prediction_models`` (every
version, with its window and sample sizes) and, for processes that read it from disk, as JSON
under ``<data_dir>/predict/model.json``. Functions take a clickhouse-connect client (HTTP or
chDB) and run synchronously, like :func:`projections.sla.sla_report`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from projections.clickhouse_schema import migrate
from projections.clickhouse_store import COLUMNS
from projections.facts import EVENT_COLUMNS, change_rows, event_row
from projections.predict.backtest import BacktestReport, HeldOutScan, score
from projections.predict.model import (
    Features,
    Model,
    StatusBucket,
    build_model,
    model_from_json,
    model_to_json,
)
from projections.predict.training import BASELINE_SQL, COVERAGE_SQL, TEST_SQL, TRAIN_SQL
from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from wismo.events import Event
from wismo.settings import Settings

MODEL_COLUMNS = (
    "version", "created_at", "trained_from", "trained_until", "min_samples", "samples",
    "parcels", "groups", "model_json",
)  # fmt: skip
#: the end of "all of it" for a test period without an end
_FAR = datetime(2200, 1, 1, tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _query(client: Any, database: str, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
    return list(client.query(sql.replace("{db}", database), parameters=parameters).result_rows)


def _window(until: datetime, window_days: float) -> dict[str, datetime]:
    return {"start": until - timedelta(days=window_days), "until": until}


@dataclass(frozen=True, slots=True)
class Coverage:
    """The delivered parcels in the store and when the first and last were delivered."""

    parcels: int
    first: datetime | None
    last: datetime | None


def coverage(client: Any, database: str) -> Coverage:
    parcels, first, last = _query(client, database, COVERAGE_SQL)[0]
    if not parcels:
        return Coverage(0, None, None)
    return Coverage(int(parcels), _utc(first), _utc(last))


def train(
    client: Any,
    database: str,
    *,
    until: datetime,
    window_days: float,
    min_samples: int,
    now: datetime | None = None,
) -> Model:
    """A model of the parcels delivered in the ``window_days`` before ``until``."""
    window = _window(until, window_days)
    rows = _query(client, database, TRAIN_SQL, min_samples=min_samples, **window)
    return build_model(
        [(str(level), str(key), int(n), int(p), list(hours)) for level, key, n, p, hours in rows],
        created_at=now or datetime.now(UTC),
        trained_from=window["start"],
        trained_until=until,
        min_samples=min_samples,
    )


def save_model(client: Any, database: str, model: Model) -> None:
    """Record the model in ``{db}.prediction_models``."""
    client.insert(
        "prediction_models",
        [
            [
                model.version,
                model.created_at,
                model.trained_from,
                model.trained_until,
                model.min_samples,
                model.samples,
                model.parcels,
                model.group_count(),
                model_to_json(model).decode(),
            ]
        ],
        column_names=list(MODEL_COLUMNS),
        database=database,
    )


def latest_model(client: Any, database: str) -> Model | None:
    """The newest stored model (by creation time), if any."""
    rows = _query(
        client,
        database,
        "SELECT model_json FROM {db}.prediction_models FINAL ORDER BY created_at DESC LIMIT 1",
    )
    return model_from_json(rows[0][0]) if rows else None


def model_path(settings: Settings) -> Path:
    return settings.data_dir / "predict" / "model.json"


def write_model_file(path: Path, model: Model) -> None:
    """The artefact as a JSON file, replaced atomically (readers never see half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_bytes(model_to_json(model))
    os.replace(scratch, path)


def read_model_file(path: Path) -> Model | None:
    try:
        return model_from_json(path.read_bytes())
    except FileNotFoundError:
        return None


def baseline(
    client: Any, database: str, *, until: datetime, window_days: float
) -> dict[str, float]:
    """The naive baseline: median transit hours per carrier (``"*"``: all carriers)."""
    result = client.query(
        BASELINE_SQL.replace("{db}", database), parameters=_window(until, window_days)
    )
    medians = {str(carrier): float(hours) for carrier, hours in result.result_rows}
    totals = getattr(result, "totals", None)
    if totals:
        medians["*"] = float(totals[1])
    elif medians:
        medians["*"] = sorted(medians.values())[len(medians) // 2]
    return medians


def held_out_scans(
    client: Any, database: str, *, start: datetime, until: datetime = _FAR
) -> list[HeldOutScan]:
    """The scans of the parcels delivered in ``[start, until)``, ordered by parcel and time."""
    rows = _query(client, database, TEST_SQL, start=start, until=until)
    samples = []
    for row in rows:
        parcel, carrier, service, origin, destination, status, days, weekday = row[:8]
        at, delivered, start_at, promise, edd = row[8:]
        features = Features(
            str(carrier),
            str(service),
            str(origin),
            str(destination),
            StatusBucket(status),
            int(days),
            int(weekday),
        )
        samples.append(
            HeldOutScan(
                str(parcel),
                features,
                _utc(at),
                _utc(delivered),
                _utc(start_at) if start_at is not None else None,
                promise if isinstance(promise, date) else None,
                edd if isinstance(edd, date) else None,
            )
        )
    return samples


def backtest(
    client: Any,
    database: str,
    *,
    train_until: datetime,
    window_days: float,
    min_samples: int,
    threshold: float,
    grace_hours: float = 0.0,
) -> BacktestReport:
    """Train on the deliveries before ``train_until``, score the parcels delivered after."""
    started = time.perf_counter()
    model = train(
        client, database, until=train_until, window_days=window_days, min_samples=min_samples
    )
    trained = time.perf_counter() - started
    medians = baseline(client, database, until=train_until, window_days=window_days)
    samples = held_out_scans(client, database, start=train_until)
    report = score(model, samples, medians, threshold=threshold, grace_hours=grace_hours)
    report.train_seconds = round(trained, 2)
    return report


def load_histories(
    client: Any, database: str, histories: Iterable[tuple[str, list[Event]]]
) -> tuple[int, int]:
    """Write each order's events and the facts of its folded timeline, as the warehouse does;
    returns the orders and events written."""
    migrate(client, database)
    orders = written = 0
    events: list[Event] = []
    changes: list[TimelineChange] = []

    def flush() -> None:
        if events:
            rows = [event_row(e) for e in events]
            client.insert("events", rows, column_names=list(EVENT_COLUMNS), database=database)
        for table, rows in change_rows(changes).items():
            if rows:
                client.insert(table, rows, column_names=list(COLUMNS[table]), database=database)
        events.clear()
        changes.clear()

    for order_id, history in histories:
        timeline = fold(history, order_id)
        changes.append(
            TimelineChange(
                order_id,
                timeline.version,
                timeline.digest,
                timeline.status.value,
                timeline_to_json(timeline),
            )
        )
        events.extend(history)
        orders += 1
        written += len(history)
        if len(events) >= 50_000:
            flush()
    flush()
    return orders, written
