"""``wismo sync``: a local aiohttp server replays recorded Shopify and Salesforce answers (the
carrier fixtures), the payloads go to a real embedded broker and the cursor to the real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr

from api.kafka import open_producer
from carriers.retry import Retry
from carriers.salesforce_om.client import SalesforceOmClient
from carriers.shopify.client import ShopifyClient
from cli.main import main
from cli.runtime.sync import KafkaRawSink, SyncCursor, SyncError, platform_for, sync_once
from streams.routing import Where, normalise
from wismo.settings import CarrierCredentials, KafkaSettings, RedisSettings, Settings
from wismo.topics import Header, decode_headers, ensure_topics

REDIS_URL = "redis://127.0.0.1:6379/0"
FIXTURES = Path(__file__).parents[1] / "carriers"
SINCE = datetime(2024, 5, 1, tzinfo=UTC)


def fixture(source: str, name: str) -> Any:
    return orjson.loads((FIXTURES / source / f"{name}.json").read_bytes())


# ---------------------------------------------------------------------------------------------
# A platform answering from a script


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Platform:
    """Answers per path in order (the last repeats); keeps what was asked."""

    base_url: str = ""
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    asked: list[web.Request] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def script(self, path: str, *replies: Reply) -> None:
        self.replies[path] = list(replies)

    async def handle(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        self.auth.append(
            request.headers.get("Authorization")
            or request.headers.get("X-Shopify-Access-Token")
            or ""
        )
        if request.method == "POST":
            await request.read()
        queue = self.replies.get(request.path)
        if not queue:
            return web.json_response({"error": "nothing recorded"}, status=404)
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        body = reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
        headers = {"Content-Type": "application/json", **reply.headers}
        return web.Response(status=reply.status, body=body, headers=headers)


@asynccontextmanager
async def platform() -> AsyncIterator[Platform]:
    server = Platform()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    async with TestServer(app, host="127.0.0.1") as http:
        server.base_url = str(http.make_url("")).rstrip("/")
        yield server


ORDERS = "/admin/api/2024-10/orders.json"


def shopify_pages(server: Platform) -> None:
    """Two pages: a new order, then the same order fulfilled and another one cancelled."""
    nxt = f'<{server.base_url}{ORDERS}?limit=250&page_info=p2>; rel="next"'
    server.script(
        ORDERS,
        Reply({"orders": [fixture("shopify", "order_create")]}, headers={"Link": nxt}),
        Reply(
            {
                "orders": [
                    fixture("shopify", "order_updated_with_fulfillment"),
                    fixture("shopify", "order_cancelled"),
                ]
            }
        ),
    )


# ---------------------------------------------------------------------------------------------
# Fixtures: the real broker and Redis


@pytest.fixture
async def settings(broker: str) -> Settings:
    unique = f"wismo-test-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        kafka=KafkaSettings(bootstrap=broker, topic_prefix=unique, partitions=1),
        redis=RedisSettings(url=REDIS_URL, key_prefix=unique),
    )
    await ensure_topics(settings)
    return settings


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        pattern = f"{settings.redis.key_prefix}:*"
        keys = [key async for key in client.scan_iter(match=pattern)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def sink(settings: Settings) -> AsyncIterator[KafkaRawSink]:
    producer = await open_producer(settings)
    try:
        yield KafkaRawSink(producer, settings.topic("raw"))
    finally:
        await producer.stop()


async def raw_records(settings: Settings) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, group_id=None)
    await consumer.start()
    try:
        partition = TopicPartition(settings.topic("raw"), 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        records: list[Any] = []
        while len(records) < end:
            batch = await consumer.getmany(partition, timeout_ms=5000)
            assert batch, "nothing more to read before the end offset"
            records += batch.get(partition, [])
        return records
    finally:
        await consumer.stop()


def headers_of(record: Any) -> dict[str, str]:
    return decode_headers(record.headers)


@asynccontextmanager
async def session_retry(**options: Any) -> AsyncIterator[tuple[aiohttp.ClientSession, Retry]]:
    async with aiohttp.ClientSession() as session:
        yield session, Retry(**options)


def shop(
    session: aiohttp.ClientSession, server: Platform, token: str, retry: Retry
) -> ShopifyClient:
    return ShopifyClient(session, "", token, base_url=server.base_url, retry=retry)


# ---------------------------------------------------------------------------------------------
# Shopify


async def test_two_pages_go_to_the_raw_topic_and_move_the_cursor(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    async with platform() as server, session_retry() as (session, retry):
        shopify_pages(server)
        cursor = SyncCursor(redis, settings.redis.key_prefix, "shopify")
        run = await sync_once(shop(session, server, "shpat_x", retry), cursor, sink, since=SINCE)

    assert (run.pages, run.fed) == (2, 4)  # three orders and one fulfilment
    first, second = server.queries
    assert first["updated_at_min"] == SINCE.isoformat()
    assert first["status"] == "any"
    assert second == {"limit": "250", "page_info": "p2"}  # the Link header's URL, as given
    assert set(server.auth) == {"shpat_x"}
    records = await raw_records(settings)
    assert len(records) == 4
    for record in records:
        headers = headers_of(record)
        assert headers[Header.SOURCE.value] == "shopify"
        assert headers[Header.ORIGIN.value] == "sync"
        assert record.key.decode() == headers[Header.DELIVERY_ID.value]
        # the parser reads each as the webhook it stands for
        read = normalise(record.value, headers, Where(record.topic, 0, record.offset), SINCE)
        assert read.dead_letter is None
        assert read.events
    topics = [headers_of(r)["http-x-shopify-topic"] for r in records]
    assert topics == ["orders/updated", "orders/updated", "fulfillments/update", "orders/updated"]
    assert headers_of(records[2])[Header.DELIVERY_ID.value] == (
        "sync:shopify:fulfillment:5012345678901:2024-05-03T14:40:11+00:00"
    )
    assert await cursor.cursor() == datetime(2024, 5, 5, 8, 3, 53, tzinfo=UTC)
    assert await cursor.progress() == {}
    assert await redis.exists(f"{settings.redis.key_prefix}:{{sync}}:cursor:shopify")


async def test_a_sync_again_gives_the_same_delivery_ids(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    cursor = SyncCursor(redis, settings.redis.key_prefix, "shopify")
    async with platform() as server, session_retry() as (session, retry):
        shopify_pages(server)
        await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
        await redis.delete(cursor.cursor_key)  # as if synced from scratch
        shopify_pages(server)
        await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
    keys = [r.key for r in await raw_records(settings)]
    assert len(keys) == 8
    assert keys[:4] == keys[4:]


async def test_a_stopped_sync_resumes_from_its_stored_progress(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    cursor = SyncCursor(redis, settings.redis.key_prefix, "shopify")
    async with platform() as server, session_retry(max_attempts=2) as (session, retry):
        nxt = f'<{server.base_url}{ORDERS}?page_info=p2>; rel="next"'
        server.script(
            ORDERS,
            Reply({"orders": [fixture("shopify", "order_create")]}, headers={"Link": nxt}),
            Reply({"errors": "Internal Server Error"}, status=503),
        )
        with pytest.raises(SyncError, match=r"HTTP 503.*\(after 2 attempts\)"):
            await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
        page_one = datetime(2024, 5, 2, 9, 14, 7, tzinfo=UTC)
        assert await cursor.progress() == {"orders": page_one}
        assert await cursor.cursor() is None  # the run did not finish

        shopify_pages(server)
        server.queries.clear()
        run = await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
    assert server.queries[0]["updated_at_min"] == page_one.isoformat()
    assert run.started_from == {"orders": page_one}
    assert await cursor.cursor() == datetime(2024, 5, 5, 8, 3, 53, tzinfo=UTC)
    assert await cursor.progress() == {}


async def test_429_waits_for_retry_after(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    async with platform() as server, session_retry() as (session, retry):
        server.script(
            ORDERS,
            Reply({"errors": "Exceeded 2 calls per second"}, 429, {"Retry-After": "1.0"}),
            Reply({"orders": [fixture("shopify", "order_cancelled")]}),
        )
        cursor = SyncCursor(redis, settings.redis.key_prefix, "shopify")
        started = time.monotonic()
        run = await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
        waited = time.monotonic() - started
    assert run.fed == 1
    assert len(server.queries) == 2
    assert waited >= 1.0


async def test_a_malformed_page_stops_with_a_clear_error_and_keeps_the_cursor(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    cursor = SyncCursor(redis, settings.redis.key_prefix, "shopify")
    async with platform() as server, session_retry() as (session, retry):
        shopify_pages(server)
        await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
        before = await cursor.cursor()
        server.script(ORDERS, Reply({"order": "not a list"}))
        with pytest.raises(SyncError, match=r"page 1\): the answer has no 'orders' list"):
            await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
        server.script(ORDERS, Reply({"orders": [{"id": 1, "updated_at": "yesterday"}]}))
        with pytest.raises(SyncError, match=r"orders\[0\]: unreadable update time 'yesterday'"):
            await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
        server.script(ORDERS, Reply(b"<html>maintenance</html>"))
        with pytest.raises(SyncError, match="not JSON"):
            await sync_once(shop(session, server, "t", retry), cursor, sink, since=SINCE)
    assert await cursor.cursor() == before


async def test_until_bounds_the_range_and_a_finished_range_asks_nothing(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    cursor = SyncCursor(redis, settings.redis.key_prefix, "shopify")
    until = datetime(2024, 5, 10, tzinfo=UTC)
    async with platform() as server, session_retry() as (session, retry):
        shopify_pages(server)
        client = shop(session, server, "t", retry)
        await sync_once(client, cursor, sink, since=SINCE, until=until)
        assert server.queries[0]["updated_at_max"] == until.isoformat()
        asked = len(server.queries)
        await sync_once(client, cursor, sink, since=SINCE, until=datetime(2024, 5, 3, tzinfo=UTC))
    assert len(server.queries) == asked  # the cursor is past --until already


# ---------------------------------------------------------------------------------------------
# Salesforce OM


QUERY = "/services/data/v61.0/query"
TOKEN = "/services/oauth2/token"


def salesforce_records(server: Platform) -> None:
    summary = fixture("salesforce_om", "order_summary_query")["records"][0]
    shipment = fixture("salesforce_om", "shipment_created")
    pick = fixture("salesforce_om", "fulfillment_order_pick_complete")
    nxt = f"{QUERY}/01gD0000002HU6KIAW-2000"
    server.script(
        QUERY,
        Reply({"totalSize": 2, "done": False, "nextRecordsUrl": nxt, "records": [summary]}),
        Reply({"totalSize": 1, "done": True, "records": [pick]}),
        Reply({"totalSize": 1, "done": True, "records": [shipment]}),
        Reply({"totalSize": 0, "done": True, "records": []}),
    )
    server.script(nxt, Reply({"totalSize": 2, "done": True, "records": []}))


async def test_salesforce_pages_each_record_type_with_client_credentials(
    settings: Settings, redis: aioredis.Redis, sink: KafkaRawSink
) -> None:
    cursor = SyncCursor(redis, settings.redis.key_prefix, "salesforce_om")
    async with platform() as server, session_retry() as (session, retry):
        server.script(
            TOKEN,
            Reply({"access_token": "first", "expires_in": 3600}),
            Reply({"access_token": "second", "expires_in": 3600}),
        )
        salesforce_records(server)
        # the first query is refused once: the token is renewed and the query asked again
        server.replies[QUERY].insert(0, Reply([{"errorCode": "INVALID_SESSION_ID"}], 401))
        credentials = CarrierCredentials(
            base_url=server.base_url, client_id="cid", client_secret=SecretStr("cs")
        )
        om = platform_for("salesforce-om", credentials, session, retry=retry)
        assert isinstance(om, SalesforceOmClient)
        run = await sync_once(om, cursor, sink, since=SINCE)

    assert run.fed == 3
    soql = [q["q"] for q in server.queries if "q" in q]
    assert "FROM OrderSummary WHERE LastModifiedDate >= 2024-05-01T00:00:00Z" in soql[0]
    assert all("ORDER BY LastModifiedDate ASC" in q for q in soql)
    assert [s.split(" FROM ")[-1].split(" ")[0] for s in soql[1:]] == [
        "OrderSummary",
        "FulfillmentOrder",
        "Shipment",
        "ReturnOrder",
    ]
    assert server.auth[-1] == "Bearer second"
    records = await raw_records(settings)
    assert [headers_of(r)[Header.ORIGIN.value] for r in records] == ["sync"] * 3
    for record in records:
        headers = headers_of(record)
        assert headers[Header.SOURCE.value] == "salesforce_om"
        read = normalise(record.value, headers, Where(record.topic, 0, record.offset), SINCE)
        assert read.dead_letter is None
        assert read.events
    assert records[2].key.decode().startswith("sync:salesforce_om:Shipment:0OB5g000000HxD2GAK:")
    assert await cursor.cursor() is not None


async def test_missing_credentials_are_named() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SyncError, match="WISMO_POLL__CARRIERS__SHOPIFY__BASE_URL"):
            platform_for("shopify", CarrierCredentials(), session)
        with pytest.raises(SyncError, match="__CLIENT_ID and"):
            platform_for("salesforce-om", CarrierCredentials(base_url="http://x"), session)


# ---------------------------------------------------------------------------------------------
# The command


def test_the_command_syncs_and_says_what_it_did(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import asyncio

    async def serve_and_run(run: Callable[[], int]) -> int:
        async with platform() as server:
            shopify_pages(server)
            env = {
                "WISMO_DATA_DIR": str(tmp_path),
                "WISMO_KAFKA__BOOTSTRAP": settings.kafka.bootstrap or "",
                "WISMO_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
                "WISMO_KAFKA__PARTITIONS": "1",
                "WISMO_REDIS__URL": REDIS_URL,
                "WISMO_REDIS__KEY_PREFIX": settings.redis.key_prefix,
                "WISMO_POLL__CARRIERS__SHOPIFY__BASE_URL": server.base_url,
                "WISMO_POLL__CARRIERS__SHOPIFY__API_KEY": "shpat_cli",
            }
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            return await asyncio.to_thread(run)

    code = asyncio.run(serve_and_run(lambda: main(["sync", "shopify", "--since", "2024-05-01"])))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "fed 4 shopify object(s) in 2 page(s)" in err
    assert "cursor 2024-05-05T08:03:53+00:00" in err

    import redis as sync_redis

    client = sync_redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(*client.keys(f"{settings.redis.key_prefix}:*"))
    finally:
        client.close()


def test_the_command_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sync", "shopify", "--since", "last tuesday"])
    assert "not an ISO 8601 time or date" in capsys.readouterr().err
    code = main(["sync", "shopify", "--since", "2024-05-02", "--until", "2024-05-01"])
    assert code == 2
    assert "--until is before --since" in capsys.readouterr().err


def test_since_is_a_time_a_date_or_an_age() -> None:
    from cli.commands.sync import when

    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert when("2026-11-30T08:00:00Z", now) == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert when("2026-11-30T08:00:00+01:00", now) == datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert when("2026-11-30", now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert when("2d", now) == datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert when(" 12h ", now) == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert when("30m", now) == datetime(2026, 12, 4, 11, 30, tzinfo=UTC)


async def test_schedule_runs_again_from_the_cursor(
    settings: Settings, redis: aioredis.Redis
) -> None:
    import argparse
    import asyncio
    import contextlib

    from cli.commands.sync import _sync

    async with platform() as server:
        shopify_pages(server)
        credentials = CarrierCredentials(base_url=server.base_url, api_key=SecretStr("t"))
        scheduled = settings.model_copy(
            update={"poll": settings.poll.model_copy(update={"carriers": {"shopify": credentials}})}
        )
        args = argparse.Namespace(platform="shopify", since=SINCE, until=None, schedule=0.3)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_sync(scheduled, args), timeout=2.0)
    firsts = [q for q in server.queries if "updated_at_min" in q]
    assert len(firsts) >= 2  # the first run, then at least one more
    assert firsts[0]["updated_at_min"] == SINCE.isoformat()
    assert firsts[1]["updated_at_min"] == "2024-05-05T08:03:53+00:00"  # from the cursor
