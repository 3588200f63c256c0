"""No secret at rest: every webhook source is sent a signed delivery through the real stack (one
``wismo run`` process with the api, normalise, timeline and warehouse roles, on the embedded
broker, Redis and chDB, logging at DEBUG), plus deliveries that pass the edge and are
dead-lettered, an integration's canonical events and agent reads. Then every Kafka topic of the
run (keys, values, headers), the dead-letter records, every ClickHouse table, the Redis keys and
the process's log are searched for each configured secret: signing keys, echoed credentials,
the API key, the agent JWT and the token secrets.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import jwt
import orjson
import pytest
import redis
from pydantic import SecretStr

from carriers import registry
from carriers.standard_webhooks import sign
from cli.runtime.embedded import free_port
from tests.api.conftest import EXAMPLE_ORDER
from tests.security.conftest import SOURCE_SECRETS
from tests.security.test_webhook_auth import CASES, _request
from tests.streams.harness import WorkerProcess, embedded_stack, group_lag, settings_env
from wismo.deadletter import read_records
from wismo.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

API_KEY = "integration-key-that-must-stay-at-the-edge"
AGENT_SECRET = "agent-jwt-secret-that-must-stay-at-the-edge"
CUSTOMER_SECRET = "customer-token-secret-that-must-stay-at-the-edge"
DRAIN_S = 180.0
LETTERS = 2


def _secrets() -> list[bytes]:
    found = [API_KEY, AGENT_SECRET, CUSTOMER_SECRET, *SOURCE_SECRETS.values()]
    keys = [
        base64.b64decode(s.removeprefix("whsec_"))
        for s in SOURCE_SECRETS.values()
        if s.startswith("whsec_")
    ]
    return [s.encode() for s in found] + keys


def _stack_settings(base: Settings, port: int) -> Settings:
    api = base.api.model_copy(
        update={
            "host": "127.0.0.1",
            "port": port,
            "customer_token_secret": SecretStr(CUSTOMER_SECRET),
            "agent_jwt_secret": SecretStr(AGENT_SECRET),
            "api_keys": (SecretStr(API_KEY),),
        }
    )
    secrets = {name: (SecretStr(secret),) for name, secret in SOURCE_SECRETS.items()}
    return base.model_copy(update={"api": api, "webhook_secrets": secrets, "log_level": "DEBUG"})


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _get(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


def _wait_for(url: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the api never answered\n{worker.log_tail()}")


def _send_everything(url: str) -> str:
    """Every source's signed sample, two deliveries the pipeline dead-letters (:data:`LETTERS`),
    canonical events with the API key, agent reads with a JWT (returned)."""
    for source in registry.names():
        raw, headers = _request(source)
        assert _post(f"{url}/v1/webhooks/{source}", raw, headers) == 202, source
    # authentic, accepted at the edge, but nothing the pipeline can turn into events
    stamp = int(time.time())
    empty = b"[]"
    signed = {
        "Content-Type": "application/json",
        "webhook-id": "msg_empty_batch",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(SOURCE_SECRETS["salesforce_om"], "msg_empty_batch", stamp, empty),
    }
    assert _post(f"{url}/v1/webhooks/salesforce_om", empty, signed) == 202
    blank = b'{"trackingNumber": "9400100000000000000000", "activity": []}'
    signer = CASES["usps"][0]
    headers = {"Content-Type": "application/json"} | signer(
        blank, SOURCE_SECRETS["usps"], datetime.now(UTC)
    )
    assert _post(f"{url}/v1/webhooks/usps", blank, headers) == 202
    events = b"[" + b",".join(EXAMPLE_ORDER.read_bytes().splitlines()[:3]) + b"]"
    keyed = {"Content-Type": "application/json", "X-API-Key": API_KEY}
    assert _post(f"{url}/v1/events", events, keyed) == 202
    token = jwt.encode(
        {"sub": "agent-1", "roles": ["supervisor"], "exp": int(time.time()) + 600},
        AGENT_SECRET,
        algorithm="HS256",
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert _get(f"{url}/v1/agent/exceptions", bearer) == 200
    assert _get(f"{url}/v1/agent/search?q=1001", bearer) == 200
    assert _get(f"{url}/v1/agent/search?q=1001", {"Authorization": f"Bearer {token}x"}) == 401
    return token


async def _every_record(settings: Settings) -> list[bytes]:
    """Key, value and headers of every record on every topic of this run."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, group_id=None)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(settings.kafka.topic_prefix)]
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        found: list[bytes] = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=5000)
            assert batch, "nothing more to read before the end offsets"
            for tp, messages in batch.items():
                for message in messages:
                    found += [message.key or b"", message.value or b""]
                    found += [name.encode() + b"=" + value for name, value in message.headers]
                if messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        assert {t.split(".", 1)[-1] for t in topics} >= {"raw", "events", "deadletter"}
        return found
    finally:
        await consumer.stop()


_DUMP_CLICKHOUSE = """
import sys, orjson
from projections.connections import clickhouse_client
from wismo.settings import load_settings

settings = load_settings()
client = clickhouse_client(settings)
database = settings.clickhouse.database
tables = [row[0] for row in client.query(
    f"SELECT name FROM system.tables WHERE database = '{database}'").result_rows]
dump = {t: [repr(r) for r in client.query(f"SELECT * FROM {database}.`{t}`").result_rows]
        for t in tables}
client.close()
sys.stdout.buffer.write(orjson.dumps(dump))
"""


def _clickhouse_rows(settings: Settings) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _DUMP_CLICKHOUSE],
        env=settings_env(settings),
        capture_output=True,
        check=True,
        timeout=300,
    )
    rows: dict[str, list[str]] = orjson.loads(done.stdout)
    return rows


def _redis_values(settings: Settings) -> list[bytes]:
    assert settings.redis.url is not None
    client = redis.Redis.from_url(settings.redis.url)
    try:
        return [
            key + b"=" + (client.dump(key) or b"")
            for key in client.scan_iter(f"{settings.redis.key_prefix}:*", count=1000)
        ]
    finally:
        client.close()


def _drained(settings: Settings, letters: int, worker: WorkerProcess) -> bool:
    """The dead letters are out (the normalise agent read the raw topic to its end) and the
    warehouse has committed every event, tracking and timeline record, twice in a row."""
    group = f"{settings.kafka.topic_prefix}-warehouse"
    deadline, settled = time.monotonic() + DRAIN_S, 0
    while time.monotonic() < deadline and settled < 2:
        assert worker.alive(), worker.log_tail()
        stored = asyncio.run(group_lag(settings, group, ("events", "tracking", "timeline")))
        done = stored == 0 and len(asyncio.run(read_records(settings))) >= letters
        settled = settled + 1 if done else 0
        time.sleep(1)
    return settled >= 2


def test_no_configured_secret_reaches_kafka_dead_letters_clickhouse_redis_or_logs(
    tmp_path: Path,
) -> None:
    with embedded_stack(tmp_path, partitions=1) as base:
        port = free_port()
        settings = _stack_settings(base, port)
        worker = WorkerProcess(settings, "api,normalise,timeline,warehouse", tmp_path).start()
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(url, worker)
            token = _send_everything(url)
            assert _drained(settings, LETTERS, worker), worker.log_tail()
            records = asyncio.run(_every_record(settings))
            dead = asyncio.run(read_records(settings))
        finally:
            assert worker.stop() == 0, worker.log_tail()
        rows = _clickhouse_rows(settings)
        stored = _redis_values(settings)
    log = worker.log_path.read_bytes()
    assert len(dead) >= LETTERS
    assert any(b"http-webhook-id" in r for r in records)  # the headers parsers need do travel
    assert sum(len(table) for table in rows.values()) > 0
    assert b'"level":"debug"' in log
    places = {
        "kafka": b"\n".join(records),
        "dead letters": b"\n".join(letter.to_json() for letter in dead),
        "clickhouse": orjson.dumps(rows),
        "redis": b"\n".join(stored),
        "log": log,
    }
    leaks = [
        (where, secret[:6])
        for where, text in places.items()
        for secret in [*_secrets(), token.encode()]
        if secret in text
    ]
    assert leaks == []
