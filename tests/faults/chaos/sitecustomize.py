"""The ClickHouse write fault, loaded only by worker subprocesses the fault suite starts with this
directory on ``PYTHONPATH``.

While the file named by ``WISMO_FAULT_CLICKHOUSE_DOWN_FILE`` exists, every ClickHouse insert
fails the way a refused connection does; once the test removes it, inserts go through again.
The fault sits at the one call every write goes through (``ClickHouse.insert_now``), so the
writer's retries, its queued batches and the warehouse's flush-before-commit all run for real.
"""

from __future__ import annotations

import os
from typing import Any

_DOWN_FILE = os.environ.get("WISMO_FAULT_CLICKHOUSE_DOWN_FILE")

if _DOWN_FILE:
    from projections import clickhouse_store

    _insert_now = clickhouse_store.ClickHouse.insert_now

    def _refusing_insert_now(self: Any, table: str, rows: Any, token: str) -> None:
        if os.path.exists(_DOWN_FILE):
            raise ConnectionRefusedError(f"injected fault: ClickHouse refuses writes to {table}")
        _insert_now(self, table, rows, token)

    clickhouse_store.ClickHouse.insert_now = _refusing_insert_now  # type: ignore[method-assign]
