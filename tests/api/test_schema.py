"""Schemathesis against the live API: generated requests for every documented operation, one at
a time and then as workflows along the document's links. No 5xx; every response (status, content
type, headers, body) matches ``api/openapi.yaml``; requests valid per the document are accepted
and invalid ones refused (``schemathesis.toml`` holds the few per-route expectations)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
import redis.asyncio as aioredis
import requests
import schemathesis
import yaml
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.errors import BadRequest
from api.views.erasure import subject_of
from cli.runtime.embedded import free_port
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import (
    API_KEY,
    REDIS_URL,
    agent_token,
    as_sent,
    example_order,
    make_settings,
)
from wismo.topics import ensure_topics

ROOT = Path(__file__).parents[2]
OPENAPI = ROOT / "api" / "openapi.yaml"
CONFIG = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
# pages are HTML for browsers, analytics needs the process holding ClickHouse
schema = (
    schemathesis.openapi.from_path(OPENAPI, config=CONFIG)
    .exclude(tag="pages")
    .exclude(tag="analytics")
)
#: an open exception on the example order, so the queue's links lead somewhere
EXCEPTION = "exc:late-sh2"


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token('agent')}", "X-API-Key": API_KEY}


def _wait_for_queue(base_url: str) -> None:
    """The agent index follows Redis through pub/sub: wait until it lists the seeded exception."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answer = requests.get(f"{base_url}/v1/agent/exceptions", headers=_headers(), timeout=5)
        if [row["exception_id"] for row in answer.json()["exceptions"]] == [EXCEPTION]:
            return
        time.sleep(0.05)
    raise AssertionError("the seeded exception never reached the agent queue")


@pytest.fixture(scope="module")
def live_api(broker: str) -> Iterator[str]:
    """The API on a real port, in its own thread and event loop (schemathesis calls are sync),
    holding the example order with its exception still open."""
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    app_settings = make_settings(broker, prefix)
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def start() -> web.AppRunner:
        await ensure_topics(app_settings)
        runner = web.AppRunner(create_app(app_settings), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        client = aioredis.Redis.from_url(REDIS_URL)
        store = RedisTimelineStore(client, prefix, url=REDIS_URL)
        await store.apply([e for e in example_order() if e.kind != "exception.resolved"])
        await client.aclose()
        return runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="wismo-live-api", daemon=True)
    thread.start()
    assert started.wait(30), "the API did not start"
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_queue(base_url)
        yield base_url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_live_api_conforms_to_its_document(case: schemathesis.Case, live_api: str) -> None:
    skipped = as_sent(case)
    case.call_and_validate(base_url=live_api, headers=_headers(), excluded_checks=skipped)


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences along the document's links (look-up → order → parcel, queue → acknowledge →
    resolve → order detail, search → order detail), checked like the single calls."""

    base_url = ""

    def before_call(self, case: schemathesis.Case) -> None:
        self.skipped = as_sent(case)

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        return {"base_url": self.base_url, "headers": _headers()}

    def validate_response(
        self,
        response: Any,
        case: schemathesis.Case,
        additional_checks: Any = None,
        **kwargs: Any,
    ) -> None:
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=self.skipped,
            transport_kwargs=kwargs,
        )


def test_live_api_workflows_conform_to_its_document(live_api: str) -> None:
    Workflow.base_url = live_api
    Workflow.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def _valid(fragment: str, instance: object) -> bool:
    """Whether ``instance`` is valid per a schema of the document (``#/components/...``)."""
    document = yaml.safe_load(OPENAPI.read_text())
    root = {"$ref": fragment, "components": document["components"]}
    return jsonschema.Draft202012Validator(root).is_valid(instance)


def test_the_document_says_what_the_server_refuses() -> None:
    """Requests once valid per the document yet refused are now invalid per the document."""
    lookup = "#/components/schemas/LookupRequest"
    assert not _valid(lookup, {"order_number": "1001"})
    assert _valid(lookup, {"order_number": "1001", "postcode": " "})
    assert _valid(lookup, {"order_number": "1001", "email": "a@example.com"})
    document = yaml.safe_load(OPENAPI.read_text())
    queue = document["paths"]["/v1/agent/exceptions"]["get"]["parameters"]
    status = next(p["schema"] for p in queue if p.get("name") == "status")
    pattern = re.compile(status["pattern"])
    assert pattern.search("open,acknowledged")
    assert pattern.search("resolved,")
    assert not pattern.search("opened")
    assert not pattern.search("open,x")
    sla = document["paths"]["/v1/analytics/sla"]["get"]["parameters"]
    by = re.compile(next(p["schema"]["pattern"] for p in sla if p.get("name") == "by"))
    assert by.search("carrier, lane")
    assert not by.search("warehouse")
    for path in ("/v1/ws", "/v1/ws/orders/{order_id}", "/v1/ws/agent"):
        refs = {p.get("$ref") for p in document["paths"][path]["get"]["parameters"]}
        assert "#/components/parameters/Upgrade" in refs, path
    action = "#/components/schemas/ActionRequest"
    assert not _valid(action, {"order_id": None})
    assert not _valid(action, {"order_id": ""})


def test_the_server_does_what_the_document_says(live_api: str) -> None:
    """Requests valid per the document are answered; invalid ones refused with a reason."""
    agent = _headers()
    empty = requests.get(f"{live_api}/v1/agent/search", headers=agent, timeout=5)
    assert empty.status_code == 200
    assert empty.json() == {"results": []}
    spaces = {"order_number": "1001", "postcode": "  "}
    # well formed, so past validation (400) to the guess limit (429 once the fuzzing used it up)
    looked_up = requests.post(f"{live_api}/v1/lookup", json=spaces, timeout=5)
    assert looked_up.status_code in {404, 429}, looked_up.text
    plain = requests.get(f"{live_api}/v1/ws/agent", headers=agent, timeout=5)
    assert plain.status_code == 400
    assert "upgrade" in plain.json()["reason"]
    for action in ("acknowledge", "resolve"):
        url = f"{live_api}/v1/agent/exceptions/{EXCEPTION}/{action}"
        refused = requests.post(url, json={"order_id": None}, headers=agent, timeout=5)
        assert refused.status_code == 400, action
        assert "order_id" in refused.json()["reason"]


@pytest.mark.parametrize(
    "body", [{"order_id": "ORD-1", "email": None}, {"email": None}, {"order_id": None}]
)
def test_erasure_counts_null_as_a_field_given(body: dict[str, object]) -> None:
    """The document allows exactly one property, a string: a null one is refused, not dropped."""
    assert not _valid("#/components/schemas/ErasureRequest", body)
    with pytest.raises(BadRequest):
        subject_of(body)
