"""``wismo up`` settles its dropped scans against the real stores: the order's events in Redis and,
for each event there, the headers of the raw-topic record its ``raw_ref`` names (a real Tansu
broker). A scan applied from a polled answer is healed; one applied from a webhook arrived
otherwise; one not applied waits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from bench.healing import Drop, Fate, Ledger
from cli.commands.up import _settle
from projections.redis_keys import RedisKeys
from streams.poll.poller import raw_message
from tests.projections.conftest import REDIS_URL, drop_prefix
from wismo.settings import KafkaSettings, RedisSettings, Settings
from wismo.topics import RAW, RawPayload, ensure_topics

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
ORDER = "SIM0-000009"
NUMBER = "1Z999AA1300000957"


@pytest.fixture
async def settings(broker: str) -> AsyncIterator[Settings]:
    unique = f"wismo-test-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        kafka=KafkaSettings(bootstrap=broker, topic_prefix=unique, partitions=1),
        redis=RedisSettings(url=REDIS_URL, key_prefix=unique),
    )
    await ensure_topics(settings)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield settings
    finally:
        await drop_prefix(client, unique)
        await client.aclose()


def scan(n: int) -> Drop:
    at = NOW - timedelta(days=3, hours=n)
    return Drop(ORDER, NUMBER, f"ups:{NUMBER}:{n}", "in_transit", at, NOW)


async def test_dropped_scans_settle_by_where_their_events_came_from(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cli.commands.up.RAW_READ_S", 1.0)  # the missing record: not for long
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        pushed = RawPayload("ups", b"{}", NOW, delivery_id="sim-9-again1")
        webhook = await producer.send_and_wait(
            settings.topic(RAW), pushed.body, key=pushed.key, headers=pushed.kafka_headers()
        )
        key, body, headers = raw_message("ups", NUMBER, {"trackResponse": {}}, "ab" * 32, NOW)
        poll = await producer.send_and_wait(settings.topic(RAW), body, key=key, headers=headers)
    finally:
        await producer.stop()

    healed, otherwise, waiting, unread = scan(1), scan(2), scan(3), scan(4)
    polled_at = NOW + timedelta(minutes=1)

    def event(drop: Drop, raw_ref: str) -> bytes:
        return orjson.dumps(
            {"event_id": drop.event_id, "received_at": polled_at.isoformat(), "raw_ref": raw_ref}
        )

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.hset(
            RedisKeys(settings.redis.key_prefix).events(ORDER),
            mapping={
                healed.event_id: event(healed, f"{poll.topic}/{poll.partition}/{poll.offset}"),
                otherwise.event_id: event(
                    otherwise, f"{webhook.topic}/{webhook.partition}/{webhook.offset}"
                ),
                unread.event_id: event(unread, f"{poll.topic}/{poll.partition}/999"),
            },
        )
    finally:
        await client.aclose()

    ledger = Ledger()
    ledger.add([healed, otherwise, waiting, unread])
    assert await _settle(settings, ledger) == [healed]
    # one held but whose payload could not be read is asked about again next time
    assert ledger.waiting() == [waiting, unread]
    assert ledger.summary() == "4 dropped, 1 healed by polling, 1 arrived otherwise"
    fates = {d["event_id"]: (d["fate"], d["arrived_at"]) for d in ledger.report()["drops"]}
    assert fates[healed.event_id] == (Fate.HEALED.value, polled_at.isoformat())
    assert fates[otherwise.event_id][0] == Fate.OTHERWISE.value
    assert await _settle(settings, ledger) == []  # healed once
