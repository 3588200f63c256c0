"""Dead-letter records: their format, and `wismo dlq list / replay` against the real broker."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from hypothesis import given
from hypothesis import strategies as st

from tests.streams.harness import WISMO, embedded_stack, settings_env
from wismo.deadletter import DeadLetter, read_records, select
from wismo.settings import Settings
from wismo.topics import DEADLETTER, RAW, Header

FAILED_AT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def letter(raw: bytes, reason: str = "malformed: invalid JSON") -> DeadLetter:
    return DeadLetter(
        reason=reason,
        source="oms",
        raw=raw,
        headers={"wismo-source": "oms", "wismo-delivery-id": "d-7"},
        failed_at=FAILED_AT,
        topic="wismo.raw",
        partition=1,
        offset=99,
        problems=("malformed: invalid JSON",),
    )


@given(raw=st.binary(max_size=200), reason=st.text(max_size=50))
def test_a_record_survives_its_json_form(raw: bytes, reason: str) -> None:
    record = letter(raw, reason)
    assert DeadLetter.from_json(record.to_json()) == record
    assert orjson.loads(record.to_json())["id"] == record.id


def test_the_id_depends_on_source_and_bytes_only() -> None:
    assert letter(b"x", "one").id == letter(b"x", "two").id
    assert letter(b"x").id != letter(b"y").id


def test_replay_headers_keep_the_originals_and_name_the_record() -> None:
    record = letter(b"{")
    headers = dict(record.replay_headers())
    assert headers["wismo-delivery-id"] == b"d-7"
    assert headers[Header.REPLAY_OF.value] == record.id.encode()


def test_select_picks_named_records_once() -> None:
    a, b = letter(b"a"), letter(b"b")
    assert select([a, b, a], None) == [a, b]
    assert select([a, b, a], [a.id]) == [a]


async def _put_letters(settings: Settings, letters: list[DeadLetter]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for record in letters:
            await producer.send_and_wait(
                settings.topic(DEADLETTER), record.to_json(), key=record.id.encode()
            )
    finally:
        await producer.stop()


async def _raw_messages(settings: Settings, count: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        settings.topic(RAW),
        bootstrap_servers=settings.kafka.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found: list[tuple[bytes, dict[str, bytes]]] = []
        while len(found) < count:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 10)
            for messages in batch.values():
                found += [(m.value, dict(m.headers)) for m in messages]
        return found
    finally:
        await consumer.stop()


def test_dlq_list_and_replay_of_one_record(tmp_path: Path) -> None:
    first, second = letter(b'{"broken": '), letter(b"\x00\x01", "invalid at kind: bad")
    with embedded_stack(tmp_path, partitions=2) as settings:
        asyncio.run(_put_letters(settings, [first, second]))
        assert [r.id for r in asyncio.run(read_records(settings))] in (
            [first.id, second.id],
            [second.id, first.id],
        )
        env = settings_env(settings)
        listing = subprocess.run(
            [WISMO, "dlq", "list"], env=env, capture_output=True, text=True, timeout=60
        )
        assert listing.returncode == 0, listing.stderr
        lines = sorted(listing.stdout.splitlines())
        assert len(lines) == 2
        assert any(line.startswith(first.id) and "malformed" in line for line in lines)
        assert "2 dead-lettered record(s)" in listing.stderr

        replay = subprocess.run(
            [WISMO, "dlq", "replay", "--id", second.id],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert replay.returncode == 0, replay.stderr
        ((value, headers),) = asyncio.run(_raw_messages(settings, 1))
        assert value == second.raw
        assert headers[Header.REPLAY_OF.value] == second.id.encode()
        assert headers["wismo-source"] == b"oms"

        missing = subprocess.run(
            [WISMO, "dlq", "replay", "--id", "dlq:nope"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert missing.returncode == 1
        assert "dlq:nope" in missing.stderr
