"""Schemathesis against the live API: generated requests for every documented operation; no
5xx, and every response (status, content type, headers, body) matches ``api/openapi.yaml``."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from cli.runtime.embedded import free_port
from tests.api.conftest import API_KEY, REDIS_URL, agent_token, as_sent, make_settings
from wismo.topics import ensure_topics

OPENAPI = Path(__file__).parents[2] / "api" / "openapi.yaml"
# pages are HTML for browsers, analytics needs the process holding ClickHouse
schema = schemathesis.openapi.from_path(OPENAPI).exclude(tag="pages").exclude(tag="analytics")


@pytest.fixture(scope="module")
def live_api(broker: str) -> Iterator[str]:
    """The API on a real port, in its own thread and event loop (schemathesis calls are sync)."""
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
    try:
        yield f"http://127.0.0.1:{port}"
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
    headers = {"Authorization": f"Bearer {agent_token('agent')}", "X-API-Key": API_KEY}
    # valid-looking data is still refused without a matching token, order or signature
    case.call_and_validate(
        base_url=live_api, headers=headers, excluded_checks=[positive_data_acceptance, *skipped]
    )
