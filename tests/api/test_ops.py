"""Operations endpoints, the OpenAPI document against the real router, and JSON errors only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from api.app import create_app
from cli.runtime.embedded import start_tansu
from tests.api.conftest import Client, agent_token, make_settings
from wismo.settings import Settings

OPENAPI = Path(__file__).parents[2] / "api" / "openapi.yaml"


def documented() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return document


def routed(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route except static files and implicit HEADs."""
    pairs = set()
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource) or route.method == "HEAD":
            continue
        assert route.resource is not None
        pairs.add((route.method.lower(), route.resource.canonical))
    return pairs


async def test_health_ready_and_metrics(client: Client) -> None:
    assert await (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ready", "checks": {"redis": "ok", "kafka": "ok"}}
    await client.get("/v1/orders/ORD-1", params={"token": "nope"})
    text = await (await client.get("/metrics")).text()
    assert (
        'wismo_api_requests_total{method="GET",route="/v1/orders/{order_id}",status="401"} 1.0'
        in text
    )
    assert "wismo_api_request_seconds_bucket" in text


async def test_readyz_names_what_is_unreachable(
    broker: str, prefix: str, redis: aioredis.Redis
) -> None:
    dead_redis = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    async with TestClient(
        TestServer(create_app(make_settings(broker, prefix), redis=dead_redis))
    ) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"] == {"redis": "unreachable", "kafka": "ok"}
    await dead_redis.aclose()
    process, bootstrap = start_tansu()
    try:
        settings = make_settings(bootstrap, prefix)
        async with TestClient(TestServer(create_app(settings))) as client:
            process.terminate()
            process.wait(5)
            response = await client.get("/readyz")
            assert response.status == 503
            assert (await response.json())["checks"] == {"redis": "ok", "kafka": "unreachable"}
    finally:
        process.kill()
        process.wait()


async def test_openapi_is_valid_served_and_describes_every_route(client: Client) -> None:
    document = documented()
    validate(document)
    served = await client.get("/openapi.json")
    assert await served.json() == orjson.loads(orjson.dumps(document))
    described = {
        (method, path, tuple(operation.get("tags", ())))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    routes = routed(client.server.app)
    assert routes <= {(method, path) for method, path, _ in described}
    # the pages and analytics are mounted by their own modules; everything else must be served
    core = {(m, p) for m, p, tags in described if not {"pages", "analytics"} & set(tags)}
    assert core <= routes


ROUTES = [
    ("POST", "/v1/webhooks/{}"),
    ("POST", "/v1/events"),
    ("POST", "/v1/lookup"),
    ("GET", "/v1/orders/{}"),
    ("GET", "/v1/tracking/{}"),
    ("GET", "/v1/agent/orders/{}"),
    ("GET", "/v1/agent/search?q={}"),
    ("GET", "/v1/agent/exceptions?severity={}&min_age_hours={}"),
    ("POST", "/v1/agent/exceptions/{}/acknowledge"),
    ("POST", "/v1/agent/exceptions/{}/resolve"),
]
segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=40
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    value=segment,
    body=st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda v: json.dumps(v).encode(),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                lambda inner: (
                    st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4)
                ),
                max_leaves=10,
            ),
        ),
    ),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
    auth=st.sampled_from(["", "Bearer junk", f"Bearer {agent_token('agent')}", "Basic eA=="]),
)
async def test_bad_input_gets_a_json_4xx_never_a_5xx(
    client: Client, route: tuple[str, str], value: str, body: bytes, content_type: str, auth: str
) -> None:
    method, template = route
    headers = {"Content-Type": content_type} if content_type else {}
    if auth:
        headers["Authorization"] = auth
    from urllib.parse import quote

    path = template.replace("{}", quote(value, safe=""))
    response = await client.request(method, path, data=body, headers=headers)
    assert response.status < 500, (method, path, response.status, await response.text())
    if response.status >= 400:
        document = await response.json()
        assert isinstance(document["error"], str)
        assert isinstance(document["reason"], str)


async def test_unknown_paths_are_json_404s(client: Client, settings: Settings) -> None:
    response = await client.get("/v2/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"
