"""Where a worker finds the newest delivery-estimate model.

Training (``wismo predict train``, docs/prediction.md) stores each model twice: a row of the
``prediction_models`` table in ClickHouse, and the artefact file ``<data_dir>/predict/model.json``
(replaced atomically). :func:`latest_model_loader` reads the newest row when a ClickHouse server
is configured (every worker host sees it) and the file otherwise: with chDB only the process
holding the chDB path may open it, and a worker must never take that lock from the warehouse.
Either way, no model means no estimates.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from projections.clickhouse_store import ClickHouse
from projections.predict.live import ModelLoader
from wismo.settings import Settings

LATEST_MODEL_SQL = """
SELECT model_json FROM {db}.prediction_models FINAL
ORDER BY created_at DESC, version DESC
LIMIT 1
"""


def model_file(settings: Settings) -> Path:
    """The artefact file ``wismo predict train`` writes (embedded deployments)."""
    return settings.data_dir / "predict" / "model.json"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def latest_model_loader(settings: Settings) -> ModelLoader:
    """A loader of the newest trained model's JSON (``None`` when none was trained)."""
    handles: list[ClickHouse] = []

    async def from_clickhouse() -> bytes | str | None:
        if not handles:
            handles.append(await ClickHouse.connect(settings, migrate_schema=False))
        rows = await handles[0].rows(LATEST_MODEL_SQL)
        if not rows:
            return None
        document: bytes | str = rows[0][0]
        return document

    async def from_file() -> bytes | None:
        return await asyncio.to_thread(_read, model_file(settings))

    return from_file if settings.clickhouse.url is None else from_clickhouse
