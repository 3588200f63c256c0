"""The warehouse reads the notifications topic through the real broker: every record lands in
ClickHouse ``notifications`` once however often it was delivered, and a record that does not
decode becomes a dead letter instead of stopping the partition.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from streams.agents.warehouse import NAME
from streams.notify.records import encode_record
from tests.projections.notification_data import generate
from tests.streams.harness import WorkerProcess, embedded_stack, group_lag, settings_env, wait_until
from wismo.deadletter import read_records
from wismo.settings import Settings
from wismo.topics import NOTIFICATIONS

pytestmark = pytest.mark.slow

_READ = """
import json, sys
from projections.clickhouse_schema import migrate
from projections.connections import clickhouse_client
from wismo.settings import load_settings

settings = load_settings()
client = clickhouse_client(settings)
database = settings.clickhouse.database
migrate(client, database)
rows = client.query(
    f"SELECT message_id, state, attempts, endpoint FROM {database}.notifications FINAL "
    "ORDER BY message_id, state"
).result_rows
client.close()
json.dump([list(row) for row in rows], sys.stdout)
"""


async def produce(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(settings.topic(NOTIFICATIONS), value, key=key.encode())
    finally:
        await producer.stop()


def stored(settings: Settings) -> list[list[object]]:
    """The deduplicated rows, read in a subprocess (chDB: one engine path per process)."""
    result = subprocess.run(
        [sys.executable, "-c", _READ],
        env=settings_env(settings),
        capture_output=True,
        check=True,
        timeout=120,
    )
    rows: list[list[object]] = json.loads(result.stdout)
    return rows


def test_records_land_once_and_a_malformed_one_is_dead_lettered(tmp_path: Path) -> None:
    records = generate(random.Random(11), 12).records
    good = [(r.order_id, encode_record(r)) for r in records]
    bad = [("N-bad", b'{"message_id": "msg_x", "state": "sent"}'), ("N-bad", b"\xff not json")]
    twice = good + bad + good[: len(good) // 2]  # redelivered: at least once
    with embedded_stack(tmp_path, partitions=2) as settings:
        asyncio.run(produce(settings, twice))
        worker = WorkerProcess(settings, "warehouse", tmp_path).start()
        group = f"{settings.kafka.topic_prefix}-{NAME}"
        try:
            drained = wait_until(
                lambda: asyncio.run(group_lag(settings, group, (NOTIFICATIONS,))) == 0,
                60,
                workers=(worker,),
            )
            assert drained, worker.log_tail()
        finally:
            assert worker.stop() == 0, worker.log_tail()
        letters = asyncio.run(read_records(settings))
        rows = stored(settings)
    expected = sorted([r.message_id, str(r.state), r.attempts, r.endpoint or ""] for r in records)
    assert rows == expected
    assert len(letters) == 2
    assert all(letter.reason.startswith("not a notification record") for letter in letters)
    assert {letter.raw for letter in letters} == {value for _, value in bad}
    assert {letter.topic for letter in letters} == {settings.topic(NOTIFICATIONS)}
