"""The invariant checker: silent on stores that hold exactly the fold, precise on every difference.

The pure comparisons are exercised with generated histories (any permutation, any duplication)
and targeted corruptions; ``wismo verify`` itself runs as a subprocess against the machine's
Redis (unique key prefix) and a private chDB path, loaded through the real stores.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from bench.history import generate
from cli.runtime.embedded import free_port
from projections.redis_store import RedisTimelineStore
from projections.verify import (
    DifferenceKind,
    LoggedEvent,
    RedisSnapshot,
    Reference,
    document_differences,
    verify,
)
from tests.streams.harness import WISMO
from wismo.events import Event, dump_event, event_from_dict, event_to_dict

REDIS_URL = "redis://127.0.0.1:6379/0"
HISTORY = generate(8, seed=21, malformed_share=0.0)
EVENTS = list(HISTORY.valid_events.values())


def faithful_redis(reference: Reference) -> RedisSnapshot:
    return RedisSnapshot(dict(reference.timelines), dict(reference.order_events))


def faithful_log(reference: Reference) -> dict[str, LoggedEvent]:
    return {
        event_id: LoggedEvent(
            1, reference.owners[event_id], _linked(event, reference.owners[event_id])
        )
        for event_id, event in reference.events.items()
    }


def _linked(event: Event, owner: str) -> str:
    document = event_to_dict(event)
    if owner:
        document["order_id"] = owner
    return orjson.dumps(document).decode()


def kinds(report: Any) -> set[tuple[str, DifferenceKind]]:
    return {(d.store, d.kind) for d in report.differences}


@given(st.randoms(use_true_random=False), st.integers(0, 3))
def test_any_permutation_or_duplication_of_the_input_gives_no_difference(
    rng: random.Random, copies: int
) -> None:
    stored = Reference.of(EVENTS)
    received = [*EVENTS, *rng.choices(EVENTS, k=copies * 5)]
    rng.shuffle(received)
    report = verify(Reference.of(received), faithful_redis(stored), faithful_log(stored))
    assert report.ok, report.differences[:3]
    assert report.orders == 8
    assert report.events == len(EVENTS)


@given(st.sampled_from(sorted(HISTORY.valid_events)))
def test_a_lost_event_is_named_in_both_stores(event_id: str) -> None:
    reference = Reference.of(EVENTS)
    owner = reference.owners[event_id]
    without = Reference.of(e for e in EVENTS if e.event_id != event_id)
    redis = faithful_redis(without)
    log = faithful_log(without)
    report = verify(reference, redis, log)
    missing = [d for d in report.differences if d.kind is DifferenceKind.MISSING_EVENT]
    assert {(d.store, d.event_id) for d in missing} >= {("clickhouse", event_id)}
    if owner and owner in without.timelines:
        assert ("redis", event_id) in {(d.store, d.event_id) for d in missing}
        # the timeline lost what the event carried: at least its version and digest differ
        paths = {d.path for d in report.differences if d.kind is DifferenceKind.FIELD}
        assert {"version", "digest"} <= paths


def test_redis_field_differences_name_the_path_and_both_values() -> None:
    reference = Reference.of(EVENTS)
    order_id = sorted(reference.timelines)[0]
    document = orjson.loads(reference.timelines[order_id])
    document["status"] = "cancelled"
    document["shipments"][0]["tracking_number"] = "1ZWRONG"
    timelines = {**reference.timelines, order_id: orjson.dumps(document)}
    other = sorted(reference.timelines)[1]
    del timelines[other]
    snapshot = RedisSnapshot(timelines, dict(reference.order_events), frozenset({"ORD-STRAY"}))
    report = verify(reference, snapshot)
    fields = {
        (d.order_id, d.path): (d.expected, d.actual)
        for d in report.differences
        if d.kind is DifferenceKind.FIELD
    }
    expected_doc = orjson.loads(reference.timelines[order_id])
    assert fields == {
        (order_id, "status"): (expected_doc["status"], "cancelled"),
        (order_id, "shipments[0].tracking_number"): (
            expected_doc["shipments"][0]["tracking_number"],
            "1ZWRONG",
        ),
    }
    assert kinds(report) == {
        ("redis", DifferenceKind.FIELD),
        ("redis", DifferenceKind.MISSING_TIMELINE),
        ("redis", DifferenceKind.EXTRA_TIMELINE),
    }
    assert "shipments[0].tracking_number: field: expected" in str(
        next(d for d in report.differences if d.path == "shipments[0].tracking_number")
    )


def test_clickhouse_duplicates_extras_wrong_orders_and_changed_content_are_reported() -> None:
    reference = Reference.of(EVENTS)
    log = faithful_log(reference)
    scan = next(e for e in EVENTS if e.order_id is None and reference.owners[e.event_id])
    placed = next(e for e in EVENTS if e.kind.value == "order.placed")
    log[placed.event_id] = LoggedEvent(
        2, log[placed.event_id].order_id, log[placed.event_id].event_json
    )
    log[scan.event_id] = LoggedEvent(1, "", log[scan.event_id].event_json)
    changed = orjson.loads(log[placed.event_id].event_json)
    changed["payload"]["currency"] = "USD"
    log[placed.event_id] = LoggedEvent(2, placed.order_id or "", orjson.dumps(changed).decode())
    log["oms:ORD-NOPE:placed"] = LoggedEvent(1, "ORD-NOPE", dump_event(placed).decode())
    report = verify(reference, clickhouse=log)
    found = {(d.kind, d.event_id, d.path) for d in report.differences}
    assert found == {
        (DifferenceKind.DUPLICATED_EVENT, placed.event_id, ""),
        (DifferenceKind.FIELD, placed.event_id, "payload.currency"),
        (DifferenceKind.WRONG_ORDER, scan.event_id, "order_id"),
        (DifferenceKind.EXTRA_EVENT, "oms:ORD-NOPE:placed", ""),
    }


def test_received_at_and_raw_ref_may_differ_in_the_log() -> None:
    reference = Reference.of(EVENTS)
    log = faithful_log(reference)
    event_id, row = next(iter(log.items()))
    document = orjson.loads(row.event_json)
    document["received_at"] = "2030-01-01T00:00:00+00:00"
    document["raw_ref"] = "kafka://elsewhere/0/1"
    log[event_id] = LoggedEvent(1, row.order_id, orjson.dumps(document).decode())
    assert verify(reference, clickhouse=log).ok


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, json_values)
def test_documents_differ_exactly_when_the_comparison_says_so(left: Any, right: Any) -> None:
    differences = list(document_differences(left, right))
    assert (not differences) == (orjson.dumps(left) == orjson.dumps(right) and left == right)
    assert not list(document_differences(left, left))


# the command, against the real stores ---------------------------------------------------------

_LOAD_CLICKHOUSE = """
import asyncio, sys
from projections.clickhouse_store import ClickHouse, ClickHouseStore
from wismo.event_lines import read_event_lines
from wismo.settings import load_settings

async def load():
    with open(sys.argv[1], "rb") as lines:
        events, problems = read_event_lines(lines)
    assert not problems, problems
    ch = await ClickHouse.connect(load_settings())
    try:
        await ClickHouseStore(ch).apply(events)
    finally:
        await ch.close()

asyncio.run(load())
"""


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _env(tmp_path: Path, prefix: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "WISMO_REDIS__URL": REDIS_URL,
        "WISMO_REDIS__KEY_PREFIX": prefix,
        "WISMO_CLICKHOUSE__CHDB_PATH": str(tmp_path / "chdb"),
        **extra,
    }


def _lines(path: Path, events: list[Event]) -> Path:
    path.write_bytes(b"".join(dump_event(event) + b"\n" for event in events))
    return path


def _verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [WISMO, "verify", *args], env=env, capture_output=True, timeout=120, check=False
    )


async def _apply_redis(prefix: str, events: list[Event]) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await RedisTimelineStore(client, prefix, url=REDIS_URL).apply(events)
    finally:
        await client.aclose()


async def test_verify_command_is_silent_on_faithful_stores_and_lists_every_difference(
    tmp_path: Path, prefix: str
) -> None:
    env = _env(tmp_path, prefix)
    source = _lines(tmp_path / "history.jsonl", EVENTS)
    reference = Reference.of(EVENTS)
    await _apply_redis(prefix, EVENTS)
    command = [sys.executable, "-c", _LOAD_CLICKHOUSE, str(source)]
    loaded = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr.decode()

    faithful = await asyncio.to_thread(_verify, env, "--events", str(source))
    assert faithful.returncode == 0, faithful.stdout.decode() + faithful.stderr.decode()
    assert b"8 orders" in faithful.stdout
    assert b"no differences" in faithful.stdout
    by_seed = await asyncio.to_thread(
        _verify, env, "--simulate", "8", "--seed", "21", "--stores", "redis"
    )
    # the seed's history has malformed payloads the file lacks, but the same valid events
    assert by_seed.returncode == 0, by_seed.stdout.decode()

    # the input now says more than the stores hold: one more scan on a known shipment
    scan = next(e for e in EVENTS if e.kind.value == "tracking.checkpoint")
    late = event_from_dict(
        {**event_to_dict(scan), "event_id": "late-scan-1", "occurred_at": "2026-05-01T00:00:00Z"}
    )
    longer = _lines(tmp_path / "longer.jsonl", [*EVENTS, late])
    # and Redis holds an order the input never mentions
    stray = generate(1, seed=5).valid_events.values()
    strays = [
        event_from_dict({**event_to_dict(e), "order_id": "ORD-STRAY"}) for e in stray if e.order_id
    ]
    await _apply_redis(prefix, strays)
    # and ClickHouse logs the same stray order
    stray_file = _lines(tmp_path / "strays.jsonl", strays)
    command = [sys.executable, "-c", _LOAD_CLICKHOUSE, str(stray_file)]
    loaded = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr.decode()
    differing = await asyncio.to_thread(_verify, env, "--events", str(longer), "--json")
    assert differing.returncode == 1, differing.stderr.decode()
    report = orjson.loads(differing.stdout)
    owner = reference.owners[scan.event_id]
    found = {(d["store"], d["kind"], d["order_id"], d["event_id"]) for d in report["differences"]}
    assert ("redis", "missing_event", owner, "late-scan-1") in found
    assert ("clickhouse", "missing_event", owner, "late-scan-1") in found
    assert ("redis", "extra_timeline", "ORD-STRAY", None) in found
    assert ("clickhouse", "extra_event", "ORD-STRAY") in {f[:3] for f in found}
    # every difference says what was expected and what was found
    assert all(d["expected"] is not None for d in report["differences"]), report["differences"]
    assert all(d["actual"] is not None for d in report["differences"]), report["differences"]
    paths = {d["path"] for d in report["differences"] if d["order_id"] == owner}
    assert {"version", "digest"} <= paths
    assert not report["ok"]
    ignoring = await asyncio.to_thread(
        _verify, env, "--events", str(longer), "--ignore-extra-orders", "--json"
    )
    assert ignoring.returncode == 1
    counts = orjson.loads(ignoring.stdout)["counts"]
    assert "redis extra_timeline" not in counts
    assert "clickhouse extra_event" not in counts
    assert counts["clickhouse missing_event"] == 1


_HOLD_CHDB = """
import sys, time
import clickhouse_connect
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
client.query("SELECT count() FROM wismo.events")
print("held", flush=True)
time.sleep(120)
"""


def test_verify_reads_clickhouse_while_another_process_holds_the_chdb(tmp_path: Path) -> None:
    env = _env(tmp_path, "wismo-test-unused")
    source = _lines(tmp_path / "history.jsonl", EVENTS)
    command = [sys.executable, "-c", _LOAD_CLICKHOUSE, str(source)]
    loaded = subprocess.run(command, env=env, capture_output=True, check=False)
    assert loaded.returncode == 0, loaded.stderr.decode()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_CHDB, str(tmp_path / "chdb")], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        checked = _verify(env, "--events", str(source), "--stores", "clickhouse")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert b"held by a running process" in checked.stderr
    assert b"no differences" in checked.stdout


def test_verify_elsewhere_refuses_a_missing_chdb_instead_of_creating_one(tmp_path: Path) -> None:
    source = _lines(tmp_path / "history.jsonl", EVENTS[:5])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WISMO_")}
    done = subprocess.run(
        [WISMO, "verify", "--events", str(source), "--stores", "clickhouse"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout.decode() + done.stderr.decode()
    assert b"no ClickHouse log at" in done.stderr
    assert not (elsewhere / ".wismo").exists()


def test_unreachable_stores_and_bad_input_exit_2_naming_what_failed(tmp_path: Path) -> None:
    source = _lines(tmp_path / "history.jsonl", EVENTS[:5])
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = _env(tmp_path, "wismo-test-unused", WISMO_REDIS__URL=redis_url)
    down = _verify(env, "--events", str(source), "--stores", "redis")
    assert down.returncode == 2
    assert f"Redis unreachable at {redis_url}".encode() in down.stderr
    ch_url = f"http://127.0.0.1:{free_port()}/"
    env = _env(tmp_path, "wismo-test-unused", WISMO_CLICKHOUSE__URL=ch_url)
    down = _verify(env, "--events", str(source), "--stores", "clickhouse")
    assert down.returncode == 2
    assert f"ClickHouse unreachable at {ch_url}".encode() in down.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(dump_event(EVENTS[0]) + b"\n{not json\n")
    refused = _verify(env, "--events", str(bad))
    assert refused.returncode == 2
    assert b"1 invalid line(s)" in refused.stderr
    assert _verify(env).returncode == 2
    assert _verify(env, "--events", str(source), "--stores", "mongo").returncode == 2
