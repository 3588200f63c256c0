"""A replacing rebuild from the timeline snapshots ClickHouse keeps writes exactly the Redis state
a refold writes; a snapshot of other events or of another fold is refolded, and one that the
verification pass finds different makes the whole rebuild refold."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from bench.history import generate
from bench.orders import HISTORY
from projections.clickhouse_store import ClickHouse, ClickHouseStore, ClickHouseWriter
from projections.fold_fingerprint import fold_fingerprint, modules
from projections.merge import with_order
from projections.rebuild import rebuild
from projections.rebuild_workers import StoreRecipe, prepare_chunk
from projections.redis_store import RedisTimelineStore
from projections.snapshots import LoggedEvent, linked_copy
from projections.store import TimelineChange
from tests.projections.conftest import REDIS_URL
from tests.projections.test_rebuild_workers import redis_state
from wismo.events import Event, dump_event, parse_event

ORDERS = 120
MIX = replace(HISTORY, exception_opened=0.3)  # exceptions: the agent queue fills


async def _log_with_snapshots(clickhouse: ClickHouse) -> tuple[ClickHouseStore, list[Event]]:
    """A log with copies not yet collapsed and scans logged before their shipment, and each
    order's timeline kept as the warehouse keeps it (folded by the running code)."""
    history = generate(ORDERS, seed=17, malformed_share=0, mix=MIX)
    logged = list(history.valid_events.values())
    assert any(e.order_id is None for e in logged)  # unlinked scans
    log = ClickHouseStore(clickhouse)
    async with ClickHouseWriter(clickhouse, batch_rows=20_000) as writer:
        await writer.add_events(logged)
        await writer.flush()
        await writer.add_events(logged[::7])  # copies the log has not collapsed yet
        await writer.flush()
        prepared = prepare_chunk("x", [source async for source in log.order_sources()])
        changes = [p.change for p in prepared if p.change is not None]
        assert {change.fold for change in changes} == {fold_fingerprint()}
        await writer.add_changes(changes)
    return log, logged


def _store(client: aioredis.Redis, prefix: str) -> RedisTimelineStore:
    return RedisTimelineStore(client, prefix, retention_s=3600)


@pytest.mark.parametrize("workers", [0, 2])
async def test_a_rebuild_from_snapshots_writes_what_a_refold_writes(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str, workers: int
) -> None:
    log, _ = await _log_with_snapshots(clickhouse)
    refold, restored = f"{redis_prefix}:refold", f"{redis_prefix}:restored"
    full = await rebuild(log, _store(redis_client, refold), replace=True, snapshots=False)
    fast = await rebuild(
        log,
        _store(redis_client, restored),
        replace=True,
        workers=workers,
        recipe=StoreRecipe(REDIS_URL, restored, 3600),
        batch_events=300,
        check_share=0.25,
    )

    assert full.from_snapshots == 0
    assert (fast.orders, fast.events, fast.changed) == (full.orders, full.events, full.changed)
    assert fast.from_snapshots == fast.orders > ORDERS * 0.9
    assert 0 < fast.checked < fast.orders
    assert fast.mismatches == 0
    assert not fast.refolded_again
    # every key: events (copies chosen and linked alike), duplicate counts, timelines,
    # lookups, the agent index, tracking links, retention bookkeeping
    assert await redis_state(redis_client, restored) == await redis_state(redis_client, refold)


async def test_a_merging_rebuild_refolds_whatever_snapshots_there_are(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    log, _ = await _log_with_snapshots(clickhouse)
    report = await rebuild(log, _store(redis_client, redis_prefix))
    assert report.orders > ORDERS * 0.9
    assert report.from_snapshots == report.checked == 0


async def _keep(clickhouse: ClickHouse, changes: list[TimelineChange]) -> None:
    async with ClickHouseWriter(clickhouse, batch_rows=100) as writer:
        await writer.add_changes(changes)


async def test_a_snapshot_of_other_events_or_of_another_fold_is_refolded(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    log, logged = await _log_with_snapshots(clickhouse)
    orders = sorted({e.order_id for e in logged if e.order_id})
    behind, foreign = orders[0], orders[1]
    # the log gained an event the snapshot has not folded (the warehouse is behind)
    late = next(e for e in logged if e.order_id == behind)
    extra = late.model_copy(update={"event_id": f"{late.event_id}-late"})
    async with ClickHouseWriter(clickhouse, batch_rows=100) as writer:
        await writer.add_events([extra])
    # the newest snapshot of another order was written by another release's fold
    (current,) = await _current(log, [foreign])
    await _keep(clickhouse, [replace(current, version=current.version + 1, fold="0" * 16)])

    refold, restored = f"{redis_prefix}:refold", f"{redis_prefix}:restored"
    full = await rebuild(log, _store(redis_client, refold), replace=True, snapshots=False)
    fast = await rebuild(log, _store(redis_client, restored), replace=True, check_share=0)

    assert fast.orders == full.orders
    assert fast.from_snapshots == fast.orders - 2
    assert fast.checked == 0
    assert await redis_state(redis_client, restored) == await redis_state(redis_client, refold)


async def _current(log: ClickHouseStore, order_ids: list[str]) -> list[TimelineChange]:
    rows = await log.ch.rows(
        "SELECT order_id, version, digest, status, timeline_json FROM {db}.timelines FINAL "
        "WHERE order_id IN {ids:Array(String)}",
        ids=order_ids,
    )
    return [
        TimelineChange(o, int(v), d, s, j.encode(), fold_fingerprint()) for o, v, d, s, j in rows
    ]


async def test_a_snapshot_unlike_the_refold_makes_the_rebuild_refold_everything(
    clickhouse: ClickHouse, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """A fold that changed without its fingerprint changing (say a library's behaviour): the
    verification pass finds the difference, and the rebuild refolds every order again."""
    log, logged = await _log_with_snapshots(clickhouse)
    order_id = sorted({e.order_id for e in logged if e.order_id})[3]
    (current,) = await _current(log, [order_id])
    document: dict[str, Any] = orjson.loads(current.timeline)
    document["order_number"] = "NOT-WHAT-THE-FOLD-SAYS"
    await _keep(clickhouse, [replace(current, timeline=orjson.dumps(document))])

    refold, restored = f"{redis_prefix}:refold", f"{redis_prefix}:restored"
    full = await rebuild(log, _store(redis_client, refold), replace=True, snapshots=False)
    fast = await rebuild(log, _store(redis_client, restored), replace=True, check_share=1.0)

    assert fast.mismatches == 1
    assert fast.refolded_again
    assert fast.checked > 0  # the chunk that held it was refolded, then everything again
    assert (fast.orders, fast.events) == (full.orders, full.events)
    assert await redis_state(redis_client, restored) == await redis_state(redis_client, refold)


# ---- linking a logged scan without parsing it ---------------------------------------------

_ID = st.text("abcXYZ019._:-", min_size=1, max_size=40)
_SOURCE = st.from_regex(r"\A[a-z][a-z0-9_\-]{0,12}\Z")


@st.composite
def _scans(draw: st.DrawFn) -> Event:
    envelope: dict[str, Any] = {
        "event_id": draw(_ID),
        "source": draw(_SOURCE),
        "kind": "tracking.checkpoint",
        "tracking_number": draw(st.text("ABC0123456789", min_size=4, max_size=20)),
        "occurred_at": "2026-03-01T10:00:00Z",
        "payload": {"status": draw(st.sampled_from(["in_transit", "delivered", "exception"]))},
    }
    if draw(st.booleans()):
        envelope["received_at"] = "2026-03-01T10:05:00.123456Z"
    if draw(st.booleans()):
        envelope["seq"] = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        envelope["raw_ref"] = draw(st.text(max_size=30))
    return parse_event(orjson.dumps(envelope))


@given(_scans(), st.text(min_size=1, max_size=128))
def test_a_scan_is_linked_in_its_logged_json_exactly_as_parsing_would(
    scan: Event, order_id: str
) -> None:
    logged = LoggedEvent(scan.event_id, dump_event(scan), linked=False)
    linked = linked_copy(logged, order_id)
    expected = dump_event(with_order(scan, order_id))
    if linked is not None:
        assert linked == expected
    plain = all(" " <= c <= "~" and c not in '"\\' for c in order_id)
    assert (linked is not None) == plain
    assert linked_copy(LoggedEvent(scan.event_id, expected, False), order_id) is None


# ---- the fold's fingerprint ------------------------------------------------------------------


def test_the_fingerprint_covers_the_fold_and_what_it_imports_and_nothing_else() -> None:
    covered = modules()
    assert {"projections.timeline", "projections.serialize", "wismo.events"} <= set(covered)
    assert {"projections.timeline_model", "projections.ordering", "wismo.vocab"} <= set(covered)
    assert not {"projections.redis_writer", "projections.rebuild", "api.app"} & set(covered)
    assert len(fold_fingerprint()) == 16


def test_every_process_of_one_release_computes_the_same_fingerprint() -> None:
    other = subprocess.run(
        [sys.executable, "-c", "from projections.fold_fingerprint import fold_fingerprint as f;"
         "print(f())"],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "7"},
    )  # fmt: skip
    assert other.stdout.strip() == fold_fingerprint()


def test_wismo_rebuild_refuses_a_check_share_outside_0_to_1() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "rebuild", "--replace", "--check-share", "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "'2' is not a share from 0 to 1" in done.stderr
