"""The whole stream pipeline, for real: raw payloads on the Tansu broker → worker subprocess
(normalise, link, timeline, warehouse) → Redis timelines, the ClickHouse log (chDB) and the
dead-letter topic.

The history is messy on purpose (:mod:`bench.history`): shuffled, 10 % re-delivered, late
scans, scans before their shipment, partial scans, malformed payloads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.history import generate, publish
from tests.streams.harness import (
    WorkerProcess,
    clickhouse_event_copies,
    embedded_stack,
    expected_timelines,
    group_lag,
    timeline_mismatches,
    wait_until,
)
from wismo.deadletter import read_records

pytestmark = pytest.mark.slow

ORDERS = 1000


def test_messy_history_converges_on_the_fold_in_redis_clickhouse_and_dead_letters(
    tmp_path: Path,
) -> None:
    history = generate(ORDERS, seed=12)
    expected = expected_timelines(history.by_order())
    assert len(expected) == ORDERS
    with embedded_stack(tmp_path) as settings:
        worker = WorkerProcess(settings, "normalise,timeline,warehouse", tmp_path).start()
        try:
            asyncio.run(publish(settings, history.messages))
            converged = wait_until(
                lambda: not timeline_mismatches(settings, expected),
                180,
                every_s=2,
                workers=(worker,),
            )
            mismatched = timeline_mismatches(settings, expected)
            assert converged, (
                f"{len(mismatched)} orders differ from the fold, e.g. {mismatched[:3]}"
            )
            group = f"{settings.kafka.topic_prefix}-warehouse"
            caught_up = wait_until(
                lambda: (
                    asyncio.run(group_lag(settings, group, ("events", "tracking", "timeline"))) == 0
                ),
                60,
                every_s=1,
                workers=(worker,),
            )
            assert caught_up, worker.log_tail()
            letters = asyncio.run(read_records(settings))
        finally:
            assert worker.stop() == 0, worker.log_tail()
        # chDB admits one process: read it once the worker has let go
        copies = clickhouse_event_copies(settings)
    assert set(copies) == set(history.valid_events)
    assert all(count == 1 for count, _ in copies.values())
    # every event is logged with its order, scans included (the linked copy wins)
    by_order = history.by_order()
    owner = {event.event_id: order for order, events in by_order.items() for event in events}
    assert {event_id: order for event_id, (_, order) in copies.items()} == owner

    dead = {letter.raw: letter for letter in letters}
    assert set(dead) == set(history.malformed)
    for letter in dead.values():
        assert letter.source == "oms"
        assert letter.reason.startswith(("malformed", "invalid")), letter.reason
        assert letter.topic == settings.topic("raw")
        assert letter.offset is not None
