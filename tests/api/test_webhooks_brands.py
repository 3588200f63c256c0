"""Per-brand webhook secrets and brands on canonical events, against the real broker and Redis."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import SecretStr

from api.webhook_secrets import secret_problems
from carriers.standard_webhooks import sign
from streams.routing import Where, normalise
from tests.api.conftest import API_KEY, EXAMPLE_ORDER, Client, make_settings, read_topic
from wismo.brands import SIGNED_BRAND_HEADER, stamp_brand
from wismo.settings import BrandSettings, Settings
from wismo.topics import EVENTS, RAW, decode_headers, ensure_topics

NORTHWIND = "whsec_" + base64.b64encode(b"northwind-oms-key").decode()
KAFFEEBERG = "whsec_" + base64.b64encode(b"kaffeeberg-oms-key").decode()
STRANGER = "whsec_" + base64.b64encode(b"nobody-knows-this").decode()
KAFKA_BRAND = f"http-{SIGNED_BRAND_HEADER}"


def with_brands(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "brands": {
                "northwind": BrandSettings(
                    name="Northwind Outfitters",
                    channels=("web", "app"),
                    webhook_secrets={"oms": (SecretStr(NORTHWIND),)},
                ),
                "kaffeeberg": BrandSettings(
                    name="Kaffeehaus Berg",
                    locale="de",
                    channels=("kaffeeberg-web",),
                    webhook_secrets={"oms": (SecretStr(KAFFEEBERG),)},
                ),
            }
        }
    )


@pytest.fixture
async def settings(broker: str, prefix: str) -> Settings:
    settings = with_brands(make_settings(broker, prefix))
    await ensure_topics(settings)
    return settings


def placed(**payload: object) -> bytes:
    event = orjson.loads(EXAMPLE_ORDER.read_bytes().splitlines()[0])
    assert event["kind"] == "order.placed"
    event["payload"].update(payload)
    event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
    return orjson.dumps([event])


def signed(body: bytes, secret: str, msg_id: str, **extra: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, msg_id, now, body),
        **extra,
    }


def brand_of_record(record: object) -> str | None:
    headers = {name: value.decode() for name, value in record.headers}  # type: ignore[attr-defined]
    return headers.get(KAFKA_BRAND)


def stamped(settings: Settings, record: object) -> list[str | None]:
    """What the normalise agent makes of a raw record: each order event's brand."""
    headers = decode_headers(record.headers)  # type: ignore[attr-defined]
    outcome = normalise(record.value, headers, Where("raw", 0, 0), datetime.now(UTC))  # type: ignore[attr-defined]
    signed_by = headers.get(KAFKA_BRAND)
    return [stamp_brand(settings, e, signed_by).payload.brand for e in outcome.events]  # type: ignore[union-attr]


async def test_a_brand_secret_signs_the_record_with_its_brand(
    client: Client, settings: Settings
) -> None:
    body = placed(sales_channel="kaffeeberg-web")  # the signature outranks the channel
    response = await client.post(
        "/v1/webhooks/oms", data=body, headers=signed(body, NORTHWIND, "msg_nw")
    )
    assert response.status == 202
    (record,) = await read_topic(settings, RAW)
    assert brand_of_record(record) == "northwind"
    assert stamped(settings, record) == ["northwind"]


async def test_a_global_secret_leaves_the_brand_to_the_channel_and_a_spoofed_header_is_dropped(
    client: Client, settings: Settings
) -> None:
    from tests.api.conftest import SECRETS

    body = placed(sales_channel="kaffeeberg-web")
    headers = signed(body, SECRETS["oms"], "msg_global", **{SIGNED_BRAND_HEADER: "northwind"})
    response = await client.post("/v1/webhooks/oms", data=body, headers=headers)
    assert response.status == 202
    (record,) = await read_topic(settings, RAW)
    assert brand_of_record(record) is None
    assert stamped(settings, record) == ["kaffeeberg"]


async def test_a_brand_secret_cannot_be_overridden_by_the_sender(
    client: Client, settings: Settings
) -> None:
    body = placed(sales_channel=None)
    headers = signed(body, KAFFEEBERG, "msg_kb", **{SIGNED_BRAND_HEADER: "northwind"})
    response = await client.post("/v1/webhooks/oms", data=body, headers=headers)
    assert response.status == 202
    (record,) = await read_topic(settings, RAW)
    assert brand_of_record(record) == "kaffeeberg"
    assert stamped(settings, record) == ["kaffeeberg"]


async def test_a_stated_brand_is_kept(client: Client, settings: Settings) -> None:
    body = placed(brand="northwind", sales_channel="kaffeeberg-web")
    response = await client.post(
        "/v1/webhooks/oms", data=body, headers=signed(body, KAFFEEBERG, "msg_stated")
    )
    assert response.status == 202
    (record,) = await read_topic(settings, RAW)
    assert stamped(settings, record) == ["northwind"]


@pytest.mark.parametrize("secret", [STRANGER, None])
async def test_unknown_or_missing_signature_is_still_refused(
    client: Client, settings: Settings, secret: str | None
) -> None:
    body = placed()
    if secret is None:
        headers = {"Content-Type": "application/json", SIGNED_BRAND_HEADER: "northwind"}
    else:
        headers = signed(body, secret, "msg_bad", **{SIGNED_BRAND_HEADER: "northwind"})
    response = await client.post("/v1/webhooks/oms", data=body, headers=headers)
    assert response.status == 401
    assert await read_topic(settings, RAW) == []


async def test_canonical_events_with_an_unknown_brand_are_refused(
    client: Client, settings: Settings
) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    response = await client.post("/v1/events", data=placed(brand="acme"), headers=headers)
    assert response.status == 422
    assert "acme" in (await response.json())["reason"]
    assert await read_topic(settings, EVENTS) == []


async def test_canonical_events_keep_a_stated_brand_and_take_one_from_the_channel(
    client: Client, settings: Settings
) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    stated = await client.post("/v1/events", data=placed(brand="kaffeeberg"), headers=headers)
    assert stated.status == 202
    (record,) = await read_topic(settings, EVENTS)
    assert orjson.loads(record.value)["payload"]["brand"] == "kaffeeberg"
    by_channel = await client.post(
        "/v1/events",
        data=placed(sales_channel="app").replace(b"order-1001-create", b"order-1001-again"),
        headers=headers,
    )
    assert by_channel.status == 202
    records = await read_topic(settings, EVENTS)
    assert orjson.loads(records[-1].value)["payload"]["brand"] == "northwind"


def test_malformed_brand_secrets_are_named_at_start() -> None:
    settings = with_brands(Settings()).model_copy(
        update={
            "brands": {
                "northwind": BrandSettings(
                    name="Northwind", webhook_secrets={"oms": (SecretStr("not-whsec"),)}
                )
            }
        }
    )
    (problem,) = [p for p in secret_problems(settings) if p.startswith("brands.")]
    assert problem.startswith("brands.northwind.webhook_secrets.oms[0] (WISMO_BRANDS): ")
    assert "not-whsec" not in problem
