"""Webhook subscriptions over the API: who may do what, the secret shown once, rotation, pause
and resume (re-enable), the delivery log, bad input refused with reasons, and internal targets
refused in production (real Redis, the real broker the API fixtures start)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from api.app import create_app
from api.errors import BadRequest
from api.views.notify_targets import check_target, internal
from projections.notify.model import EVENT_TYPES
from projections.notify.subscriptions import SubscriptionStore
from tests.api.conftest import Client, agent_token
from wismo.settings import NotifySettings, Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BASE = "/v1/notify/subscriptions"


def auth(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(*roles)}"}


AGENT, VIEWER, ADMIN = auth("agent"), auth("viewer"), auth("admin")
HOOK = {
    "url": "https://hooks.example.com/wismo?key=s3cret",
    "event_types": ["order.status_changed"],
}


async def make(client: Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await client.post(BASE, json=body or HOOK, headers=AGENT)
    assert answer.status == 201, await answer.text()
    created: dict[str, Any] = await answer.json()
    return created


async def test_create_shows_the_secret_once_and_lists_without_it(client: Client) -> None:
    created = await make(
        client,
        HOOK
        | {
            "filters": {"carriers": ["ups"], "channels": ["b2c"]},
            "description": "OMS",
            "max_concurrency": 2,
        },
    )
    assert created["id"].startswith("sub_")
    assert created["secret"].startswith("whsec_")
    assert created["state"] == "active"
    assert created["filters"] == {"channels": ["b2c"], "carriers": ["ups"], "brands": []}
    assert created["signing_secrets"] == 1
    listed = await (await client.get(BASE, headers=AGENT)).json()
    assert [s["id"] for s in listed["subscriptions"]] == [created["id"]]
    assert "secret" not in listed["subscriptions"][0]
    assert created["secret"] not in str(listed)
    one = await (await client.get(f"{BASE}/{created['id']}", headers=AGENT)).json()
    assert "secret" not in one
    assert one["url"] == HOOK["url"]


async def test_a_secret_brought_along_is_used(client: Client) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()
    created = await make(client, HOOK | {"secret": secret})
    assert created["secret"] == secret
    short = "whsec_" + base64.b64encode(b"short").decode()
    refused = await client.post(BASE, json=HOOK | {"secret": short}, headers=AGENT)
    assert refused.status == 400
    assert "24 to 63 bytes" in (await refused.json())["reason"]


async def test_viewers_list_with_urls_cut_to_the_host_and_change_nothing(client: Client) -> None:
    created = await make(client)
    listed = await client.get(BASE, headers=VIEWER)
    assert listed.status == 200
    (row,) = (await listed.json())["subscriptions"]
    assert row["url"] == "https://hooks.example.com/…"
    sub = f"{BASE}/{created['id']}"
    for method, path in [
        ("POST", BASE),
        ("PATCH", sub),
        ("DELETE", sub),
        ("POST", f"{sub}/pause"),
        ("POST", f"{sub}/resume"),
        ("POST", f"{sub}/rotate-secret"),
    ]:
        answer = await client.request(method, path, json=HOOK, headers=VIEWER)
        assert answer.status == 403, (method, path)
        assert "agent" in (await answer.json())["reason"]
    assert (await client.get(f"{sub}/deliveries", headers=VIEWER)).status == 200


async def test_admins_manage_subscriptions_too(client: Client) -> None:
    answer = await client.post(BASE, json=HOOK, headers=ADMIN)
    assert answer.status == 201


async def test_tokens_are_required(client: Client) -> None:
    assert (await client.get(BASE)).status == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert (await client.post(BASE, json=HOOK, headers=bad)).status == 401
    customer = await client.get(BASE, headers=auth("customer"))
    assert customer.status == 403


async def test_update_pause_resume_delete(client: Client) -> None:
    created = await make(client)
    sub = f"{BASE}/{created['id']}"
    patched = await client.patch(
        sub, json={"event_types": ["return.*", "refund.issued"], "description": None}, headers=AGENT
    )
    assert patched.status == 200, await patched.text()
    assert (await patched.json())["event_types"] == ["return.*", "refund.issued"]
    paused = await (await client.post(f"{sub}/pause", headers=AGENT)).json()
    assert paused["state"] == "paused"
    resumed = await (await client.post(f"{sub}/resume", headers=AGENT)).json()
    assert resumed["state"] == "active"
    assert (await client.delete(sub, headers=AGENT)).status == 204
    assert (await client.get(sub, headers=AGENT)).status == 404
    assert (await client.delete(sub, headers=AGENT)).status == 404


async def test_resume_re_enables_a_disabled_subscription(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    created = await make(client)
    store = SubscriptionStore(redis, prefix)
    await store.disable(created["id"], "HTTP 500 for a day", at=NOW)
    shown = await (await client.get(f"{BASE}/{created['id']}", headers=VIEWER)).json()
    assert shown["state"] == "disabled"
    assert shown["disabled_reason"] == "HTTP 500 for a day"
    resumed = await (await client.post(f"{BASE}/{created['id']}/resume", headers=AGENT)).json()
    assert resumed["state"] == "active"
    assert resumed["disabled_reason"] is None


async def test_rotation_answers_the_new_secret_once_and_both_sign(
    client: Client, redis: aioredis.Redis, prefix: str
) -> None:
    created = await make(client)
    sub = f"{BASE}/{created['id']}"
    rotated = await client.post(
        f"{sub}/rotate-secret", json={"keep_previous_s": 3600}, headers=AGENT
    )
    assert rotated.status == 200, await rotated.text()
    body = await rotated.json()
    assert body["secret"] != created["secret"]
    assert body["signing_secrets"] == 2
    stored = await SubscriptionStore(redis, prefix).get(created["id"])
    assert stored is not None
    assert stored.secrets == (body["secret"], created["secret"])
    now_only = await client.post(f"{sub}/rotate-secret", json={"keep_previous_s": 0}, headers=AGENT)
    assert (await now_only.json())["signing_secrets"] == 1
    no_body = await client.post(f"{sub}/rotate-secret", headers=AGENT)
    assert no_body.status == 200
    bad = await client.post(f"{sub}/rotate-secret", json={"keep_previous_s": -1}, headers=AGENT)
    assert bad.status == 400
    assert "keep_previous_s" in (await bad.json())["reason"]
    missing = await client.post(f"{BASE}/sub_missing/rotate-secret", headers=AGENT)
    assert missing.status == 404


async def test_the_delivery_log(client: Client, redis: aioredis.Redis, prefix: str) -> None:
    created = await make(client)
    store = SubscriptionStore(redis, prefix)
    for attempt, status in enumerate((500, 503, 204), start=1):
        await store.record_attempt(
            created["id"],
            {
                "message_id": "msg_x",
                "type": "order.status_changed",
                "attempt": attempt,
                "status_code": status,
                "latency_ms": 3.5,
                "error": None if status < 300 else f"HTTP {status}",
                "at": NOW.isoformat(),
            },
        )
    log = await client.get(f"{BASE}/{created['id']}/deliveries?limit=2", headers=AGENT)
    assert log.status == 200
    assert [d["status_code"] for d in (await log.json())["deliveries"]] == [204, 503]
    assert (await client.get(f"{BASE}/sub_none/deliveries", headers=AGENT)).status == 404
    bad = await client.get(f"{BASE}/{created['id']}/deliveries?limit=0", headers=AGENT)
    assert bad.status == 400


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"event_types": ["order.status_changed"]}, "url is required"),
        ({"url": "ftp://example.com/x", "event_types": ["refund.issued"]}, "http"),
        ({"url": "javascript://x", "event_types": ["refund.issued"]}, "http"),
        ({"url": "https://example.com/x"}, "event_types is required"),
        ({"url": "https://example.com/x", "event_types": []}, "event_types"),
        ({"url": "https://example.com/x", "event_types": ["order.deleted"]}, "order.deleted"),
        (HOOK | {"filters": {"warehouses": ["a"]}}, "warehouses"),
        (HOOK | {"filters": {"carriers": "ups"}}, "filters.carriers"),
        (HOOK | {"max_concurrency": 0}, "max_concurrency"),
        (HOOK | {"max_concurrency": True}, "max_concurrency"),
        (HOOK | {"description": 5}, "description"),
        (HOOK | {"paused": True}, "paused"),
    ],
)
async def test_bad_input_is_refused_with_a_reason(
    client: Client, body: dict[str, Any], reason: str
) -> None:
    answer = await client.post(BASE, json=body, headers=AGENT)
    assert answer.status == 400, await answer.text()
    assert reason in (await answer.json())["reason"]


async def test_bad_patches(client: Client) -> None:
    created = await make(client)
    sub = f"{BASE}/{created['id']}"
    empty = await client.patch(sub, json={}, headers=AGENT)
    assert empty.status == 400
    assert "at least one" in (await empty.json())["reason"]
    secret = await client.patch(sub, json={"secret": "whsec_x"}, headers=AGENT)
    assert secret.status == 400
    not_json = await client.patch(sub, data=b"url=x", headers=AGENT)
    assert not_json.status == 415
    assert (
        await client.patch(f"{BASE}/sub_no", json={"url": "https://a.example"}, headers=AGENT)
    ).status == 404


# production: no internal targets ----------------------------------------------------------


def prod(settings: Settings, allow: tuple[str, ...] = ()) -> Settings:
    secrets = {"unsubscribe_secret": SecretStr("unsubscribe-secret-for-the-tests-0123456")}
    notify = NotifySettings(**secrets, webhook_private_allow=allow)
    return settings.model_copy(update={"environment": "prod", "notify": notify})


@pytest.fixture
async def prod_client(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(prod(settings)))) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/hook",
    ],
)
async def test_prod_refuses_internal_targets(prod_client: Client, url: str) -> None:
    answer = await prod_client.post(BASE, json=HOOK | {"url": url}, headers=AGENT)
    assert answer.status == 400, await answer.text()
    assert "private" in (await answer.json())["reason"]


async def test_ipv6_literals_are_refused_by_shape(prod_client: Client) -> None:
    for url in ("http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook"):
        answer = await prod_client.post(BASE, json=HOOK | {"url": url}, headers=AGENT)
        assert answer.status == 400
        assert "IPv4" in (await answer.json())["reason"]


async def test_prod_refuses_an_internal_target_on_update_too(prod_client: Client) -> None:
    created = await prod_client.post(BASE, json=HOOK | {"url": "https://8.8.8.8/h"}, headers=AGENT)
    assert created.status == 201, await created.text()
    sub = f"{BASE}/{(await created.json())['id']}"
    answer = await prod_client.patch(sub, json={"url": "http://127.0.0.1/h"}, headers=AGENT)
    assert answer.status == 400


async def test_prod_refuses_hosts_that_do_not_resolve(prod_client: Client) -> None:
    answer = await prod_client.post(
        BASE, json=HOOK | {"url": "https://no-such-host.invalid/h"}, headers=AGENT
    )
    assert answer.status == 400
    assert "does not resolve" in (await answer.json())["reason"]


async def test_the_allow_list_lets_named_internal_targets_through(settings: Settings) -> None:
    allowed = prod(settings, ("10.0.0.0/8", "receiver.internal"))
    assert await check_target("http://10.9.8.7/h", allowed) == "http://10.9.8.7/h"
    assert await check_target("http://receiver.internal/h", allowed)
    with pytest.raises(BadRequest, match="private"):
        await check_target("http://192.168.1.1/h", allowed)
    # development: the echo receiver on 127.0.0.1 is fine
    assert await check_target("http://127.0.0.1:9/h", settings)


def test_internal_addresses() -> None:
    import ipaddress

    assert internal(ipaddress.ip_address("127.0.0.1"))
    assert internal(ipaddress.ip_address("fd00::1"))
    assert internal(ipaddress.ip_address("224.0.0.1"))
    assert internal(ipaddress.ip_address("100.64.0.1"))
    assert not internal(ipaddress.ip_address("93.184.216.34"))
    assert not internal(ipaddress.ip_address("2606:4700::1111"))


async def test_no_cache_keeps_subscription_answers(client: Client) -> None:
    answer = await client.post(BASE, json=HOOK, headers=AGENT)
    assert answer.headers["Cache-Control"] == "no-store"
    listed = await client.get(BASE, headers=VIEWER)
    assert listed.headers["Cache-Control"] == "no-store"


async def test_the_self_service_event_types_can_be_subscribed(client: Client) -> None:
    wanted = ["return.requested", "cancel.*", "exception.assigned", "exception.escalated"]
    created = await make(client, HOOK | {"event_types": wanted})
    assert created["event_types"] == wanted


def test_the_document_names_every_event_type_and_family() -> None:
    document = yaml.safe_load((Path(__file__).parents[2] / "api" / "openapi.yaml").read_text())
    named = set(document["components"]["schemas"]["NotifyEventType"]["enum"])
    families = {kind.split(".")[0] + ".*" for kind in EVENT_TYPES}
    assert named == set(EVENT_TYPES) | families | {"*"}
