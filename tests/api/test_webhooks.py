"""Webhook ingestion and canonical event intake against the real broker and Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from api.deliveries import Claim, DeliveryLedger
from api.views.webhooks import _parse
from carriers import registry
from carriers.standard_webhooks import sign
from tests.api.conftest import (
    API_KEY,
    EXAMPLE_ORDER,
    SAMPLES,
    SECRETS,
    Client,
    aftership_signature,
    read_topic,
)
from wismo.settings import Settings
from wismo.topics import EVENTS, RAW, TRACKING, Header

AFTERSHIP = (SAMPLES / "aftership_out_for_delivery.json").read_bytes()


def oms_headers(body: bytes, msg_id: str, sent_at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if sent_at is None else sent_at
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(SECRETS["oms"], msg_id, timestamp, body),
    }


def aftership_headers(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "aftership-hmac-sha256": aftership_signature(body)}


def example_events(count: int) -> bytes:
    lines = EXAMPLE_ORDER.read_bytes().splitlines()[:count]
    return b"[" + b",".join(lines) + b"]"


def headers_of(record: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


async def test_signed_webhook_is_written_raw_and_acknowledged(
    client: Client, settings: Settings
) -> None:
    response = await client.post(
        "/v1/webhooks/aftership", data=AFTERSHIP, headers=aftership_headers(AFTERSHIP)
    )
    assert response.status == 202
    body = await response.json()
    assert body["status"] == "accepted"
    assert body["delivery_id"] == "6f0c3b7e-2a51-4d8e-9b0a-1c4e7d2f9a31"
    assert body["events"] >= 2  # two checkpoints (plus nothing fatal)
    (record,) = await read_topic(settings, RAW)
    assert record.value == AFTERSHIP  # the bytes as sent, not a re-encoding
    assert record.key == body["delivery_id"].encode()
    headers = headers_of(record)
    assert headers[Header.SOURCE] == "aftership"
    assert headers[Header.CONTENT_TYPE] == "application/json"
    assert headers[Header.DELIVERY_ID] == body["delivery_id"]
    assert headers[Header.RECEIVED_AT].endswith("+00:00")
    # the signature stays at the edge: no secret-bearing header is written with the payload
    assert not [name for name in headers if name.startswith("http-")]


async def test_redelivery_is_acknowledged_without_a_second_write(
    client: Client, settings: Settings
) -> None:
    statuses = []
    for _ in range(3):
        response = await client.post(
            "/v1/webhooks/aftership", data=AFTERSHIP, headers=aftership_headers(AFTERSHIP)
        )
        statuses.append(response.status)
    assert statuses == [202, 200, 200]
    assert len(await read_topic(settings, RAW)) == 1


async def test_standard_webhooks_delivery_id_is_the_dedup_key(
    client: Client, settings: Settings
) -> None:
    body = example_events(3)
    first = await client.post("/v1/webhooks/oms", data=body, headers=oms_headers(body, "msg_1"))
    # the same message re-signed later (a sender retry) is still the same delivery
    again = await client.post(
        "/v1/webhooks/oms", data=body, headers=oms_headers(body, "msg_1", int(time.time()) - 5)
    )
    other = await client.post("/v1/webhooks/oms", data=body, headers=oms_headers(body, "msg_2"))
    assert (first.status, again.status, other.status) == (202, 200, 202)
    records = await read_topic(settings, RAW)
    assert [headers_of(r)[Header.DELIVERY_ID] for r in records] == ["msg_1", "msg_2"]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (
            lambda h: h | {"aftership-hmac-sha256": aftership_signature(b"other body")},
            "bad_signature",
        ),
        (
            lambda h: h | {"aftership-hmac-sha256": aftership_signature(AFTERSHIP, "old")},
            "bad_signature",
        ),
        (
            lambda h: {k: v for k, v in h.items() if k != "aftership-hmac-sha256"},
            "missing_signature",
        ),
        (lambda h: h | {"aftership-hmac-sha256": "not base64!"}, "bad_signature"),
    ],
    ids=["other-body", "wrong-secret", "missing", "garbage"],
)
async def test_bad_signatures_are_refused_with_a_reason(
    client: Client, settings: Settings, mutate: Any, code: str
) -> None:
    response = await client.post(
        "/v1/webhooks/aftership", data=AFTERSHIP, headers=mutate(aftership_headers(AFTERSHIP))
    )
    assert response.status == 401
    body = await response.json()
    assert body["error"] == "unauthorized"
    assert body["reason"]
    assert body["details"]["code"] == code
    assert await read_topic(settings, RAW) == []


async def test_stale_signed_timestamp_is_refused(client: Client, settings: Settings) -> None:
    body = example_events(1)
    headers = oms_headers(body, "msg_old", int(time.time()) - 3600)
    response = await client.post("/v1/webhooks/oms", data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["details"]["code"] == "stale_timestamp"
    assert await read_topic(settings, RAW) == []


async def test_source_without_a_configured_secret_is_refused(client: Client) -> None:
    body = b"{}"
    response = await client.post(
        "/v1/webhooks/easypost", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 401
    assert "no webhook secret" in (await response.json())["reason"]


async def test_signed_but_unparseable_payload_is_a_400_with_the_problems(
    client: Client, settings: Settings
) -> None:
    body = b'{"event": "tracking_update", "msg": {"slug": "ups"}}'
    response = await client.post(
        "/v1/webhooks/aftership", data=body, headers=aftership_headers(body)
    )
    assert response.status == 400
    document = await response.json()
    assert document["error"] == "bad_request"
    assert any(p["path"] == "msg.tracking_number" for p in document["details"])
    assert await read_topic(settings, RAW) == []


async def test_unknown_source_and_wrong_method(client: Client) -> None:
    response = await client.post(
        "/v1/webhooks/nope", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status == 404
    document = await response.json()
    # the configured sources are not listed to whoever guesses a name
    assert "details" not in document
    assert not [name for name in registry.names() if name in orjson.dumps(document).decode()]
    response = await client.get("/v1/webhooks/aftership")
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"


async def test_wrong_content_type_is_415(client: Client) -> None:
    response = await client.post(
        "/v1/webhooks/aftership", data=b"tracking=1", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert (await response.json())["error"] == "unsupported_media_type"


@pytest.mark.parametrize("api_options", [{"max_body_bytes": 2048}])
async def test_oversized_body_is_413(client: Client, settings: Settings) -> None:
    body = b'{"pad": "' + b"x" * 4096 + b'"}'
    response = await client.post(
        "/v1/webhooks/aftership", data=body, headers=aftership_headers(body)
    )
    assert response.status == 413
    assert (await response.json())["error"] == "payload_too_large"

    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        yield body

    response = await client.post(
        "/v1/webhooks/aftership", data=chunks(), headers=aftership_headers(body)
    )
    assert response.status == 413
    assert await read_topic(settings, RAW) == []


@pytest.mark.parametrize("api_options", [{"webhook_rate_per_s": 0.5, "webhook_burst": 2}])
async def test_rate_limit_per_source_counts_authentic_deliveries_only(client: Client) -> None:
    unsigned = {"Content-Type": "application/json"}
    refused = [
        (await client.post("/v1/webhooks/oms", data=b"{}", headers=unsigned)).status
        for _ in range(5)
    ]
    assert refused == [401] * 5  # forgeries take nothing from the source's bucket
    body = example_events(1)
    statuses = [
        (
            await client.post("/v1/webhooks/oms", data=body, headers=oms_headers(body, f"m{i}"))
        ).status
        for i in range(3)
    ]
    assert statuses == [202, 202, 429]
    limited = await client.post("/v1/webhooks/oms", data=body, headers=oms_headers(body, "m9"))
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 3
    # another source has its own bucket
    other = await client.post(
        "/v1/webhooks/aftership", data=AFTERSHIP, headers=aftership_headers(AFTERSHIP)
    )
    assert other.status == 202


async def test_canonical_events_need_an_api_key(client: Client, settings: Settings) -> None:
    body = example_events(2)
    missing = await client.post(
        "/v1/events", data=body, headers={"Content-Type": "application/json"}
    )
    wrong = await client.post(
        "/v1/events", data=body, headers={"Content-Type": "application/json", "X-API-Key": "nope"}
    )
    assert (missing.status, wrong.status) == (401, 401)
    assert await read_topic(settings, EVENTS) == []


async def test_canonical_event_batch_is_routed_by_order_and_tracking_number(
    client: Client, settings: Settings
) -> None:
    lines = EXAMPLE_ORDER.read_bytes().splitlines()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    response = await client.post("/v1/events", data=b"[" + b",".join(lines) + b"]", headers=headers)
    assert response.status == 202
    accepted = (await response.json())["event_ids"]
    assert len(accepted) == len(lines)
    events = await read_topic(settings, EVENTS)
    by_id = {orjson.loads(r.value)["event_id"]: r for r in events}
    for line in lines:
        event = orjson.loads(line)
        if event.get("order_id"):
            assert by_id[event["event_id"]].key == event["order_id"].encode()
    tracking = await read_topic(settings, TRACKING)
    unlinked = [orjson.loads(line) for line in lines if not orjson.loads(line).get("order_id")]
    assert {orjson.loads(r.value)["event_id"] for r in tracking} >= {
        e["event_id"] for e in unlinked
    }
    single = await client.post("/v1/events", data=lines[0], headers=headers)
    assert single.status == 202


async def test_one_invalid_event_refuses_the_whole_batch(
    client: Client, settings: Settings
) -> None:
    good = EXAMPLE_ORDER.read_bytes().splitlines()[0]
    bad = orjson.dumps({"kind": "order.placed", "occurred_at": "yesterday", "payload": {}})
    headers = {"Content-Type": "application/json", "X-API-Key": API_KEY}
    response = await client.post(
        "/v1/events", data=b"[" + good + b"," + bad + b"]", headers=headers
    )
    assert response.status == 400
    details = (await response.json())["details"]
    assert all(p["path"].startswith("[1]") for p in details)
    assert await read_topic(settings, EVENTS) == []
    not_json = await client.post("/v1/events", data=b"{", headers=headers)
    assert not_json.status == 400


class CrashingSource:
    """A source whose parser has a bug: it raises instead of returning problems."""

    name = "crashing"

    def parse(self, raw: bytes, headers: Any, received_at: Any) -> Any:
        raise KeyError("msg")

    def verify(self, raw: bytes, headers: Any, secrets: Any, now: Any) -> None:
        return None


def test_a_crashing_parser_keeps_the_authentic_payload_for_the_dead_letter_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = _parse(CrashingSource(), AFTERSHIP, {}, datetime.now(UTC))
    assert not result.fatal  # written raw; the normalise agent dead-letters it with the error
    assert result.events == ()
    assert "crashing parser failed" in caplog.text


async def test_a_delivery_still_being_written_elsewhere_is_retried_not_acknowledged(
    client: Client, settings: Settings, redis: aioredis.Redis
) -> None:
    ledger = DeliveryLedger(redis, settings.redis.key_prefix, ttl_s=60)
    delivery_id = orjson.loads(AFTERSHIP)["event_id"]
    assert await ledger.claim("aftership", delivery_id) is Claim.NEW  # another process, mid-write
    response = await client.post(
        "/v1/webhooks/aftership", data=AFTERSHIP, headers=aftership_headers(AFTERSHIP)
    )
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert await read_topic(settings, RAW) == []
    metrics = await (await client.get("/metrics")).text()
    assert 'wismo_api_webhooks_total{outcome="unavailable",source="aftership"} 1.0' in metrics
    await ledger.done("aftership", delivery_id)  # the other process's write landed
    again = await client.post(
        "/v1/webhooks/aftership", data=AFTERSHIP, headers=aftership_headers(AFTERSHIP)
    )
    assert again.status == 200
