"""Bad input at the HTTP edge: a 4xx with a reason, never a 5xx, never a crash.

- Schemathesis generates requests for every operation of ``api/openapi.yaml`` — valid ones and
  ones that break the schema — against ``wismo api`` on a local port (the real broker and Redis,
  orders already projected, agent and customer credentials supplied): no 5xx, and every answer
  has a documented status, content type and a body valid against its schema.
- Hand-made abuse of every body-taking route: oversized bodies (declared and streamed), wrong
  and missing content types, invalid UTF-8, JSON nested ten thousand deep, huge arrays,
  non-object JSON, NaN and duplicate keys — each a 4xx with a JSON reason; the server stays up.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import random
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio as aioredis
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from schemathesis import checks

from api.auth import issue_customer_token
from cli.runtime.embedded import free_port, start_tansu, stop_process
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import as_sent
from tests.projections.synthetic import order_history
from wismo.settings import KafkaSettings, RedisSettings, Settings
from wismo.topics import ensure_topics

REDIS_URL = "redis://127.0.0.1:6379/0"
SPEC = Path(__file__).parents[2] / "api" / "openapi.yaml"
WISMO = str(
    Path(os.environ.get("VIRTUAL_ENV", Path(__file__).parents[2] / ".venv")) / "bin" / "wismo"
)
CUSTOMER_SECRET = "bad-input-customer-secret-of-enough-length"
AGENT_SECRET = "bad-input-agent-secret-of-enough-length-00"
API_KEY = "bad-input-integration-key"
OMS_SECRET = "whsec_" + base64.b64encode(b"bad-input-oms").decode()
ORDERS = 5
MAX_BODY = 64 * 1024


def _agent_token() -> str:
    claims = {"sub": "fuzzer", "roles": ["supervisor"], "exp": int(time.time()) + 3600}
    return jwt.encode(claims, AGENT_SECRET, algorithm="HS256")


def _seed_orders(prefix: str) -> None:
    async def apply() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        rng = random.Random(9)
        events = [e for index in range(ORDERS) for e in order_history(index, rng)]
        try:
            await RedisTimelineStore(client, prefix, url=REDIS_URL).apply(events)
        finally:
            await client.aclose()

    asyncio.run(apply())


def _drop_keys(prefix: str) -> None:
    async def drop() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()

    asyncio.run(drop())


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API role on a free local port, on a private broker, a private chDB path and a unique
    Redis prefix."""
    broker, bootstrap = start_tansu()
    prefix = f"wismo-test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    settings = Settings(
        kafka=KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix, partitions=1),
        redis=RedisSettings(url=REDIS_URL, key_prefix=prefix),
    )
    asyncio.run(ensure_topics(settings))
    _seed_orders(prefix)
    env = {
        **os.environ,
        "WISMO_DATA_DIR": str(tmp_path_factory.mktemp("api-data")),
        "WISMO_KAFKA__BOOTSTRAP": bootstrap,
        "WISMO_KAFKA__TOPIC_PREFIX": prefix,
        "WISMO_KAFKA__PARTITIONS": "1",
        "WISMO_REDIS__URL": REDIS_URL,
        "WISMO_REDIS__KEY_PREFIX": prefix,
        "WISMO_API__HOST": "127.0.0.1",
        "WISMO_API__PORT": str(port),
        "WISMO_KAFKA__SESSION_TIMEOUT_S": "6",
        "WISMO_KAFKA__REBALANCE_TIMEOUT_S": "3",
        "WISMO_KAFKA__HEARTBEAT_INTERVAL_S": "0.5",
        "WISMO_API__CUSTOMER_TOKEN_SECRET": CUSTOMER_SECRET,
        "WISMO_API__AGENT_JWT_SECRET": AGENT_SECRET,
        "WISMO_API__API_KEYS": json.dumps([API_KEY]),
        "WISMO_API__MAX_BODY_BYTES": str(MAX_BODY),
        "WISMO_WEBHOOK_SECRETS": json.dumps({"oms": [OMS_SECRET]}),
        "WISMO_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path_factory.mktemp("api-log") / "api.log").open("wb")
    # with the warehouse role in the same process, the analytics routes have their chDB
    command = [WISMO, "run", "--roles", "api,warehouse", "--web-port", str(free_port())]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _serving(url):
            assert process.poll() is None, "wismo api exited"
            assert time.monotonic() < deadline, "wismo api did not start"
            time.sleep(0.1)
        yield url
        assert process.poll() is None, "wismo api died under bad input"
    finally:
        stop_process(process, "wismo api")
        log.close()
        stop_process(broker, "tansu")
        _drop_keys(prefix)


schema = schemathesis.openapi.from_path(SPEC)
#: no 5xx; every answer documented (status, content type, headers) and valid against its
#: schema; schema-invalid requests refused with a 4xx
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def _credentials(case: schemathesis.Case) -> dict[str, str]:
    """A valid credential where the operation needs one, so generation reaches the handler."""
    path = case.operation.path
    if path.startswith(("/v1/agent", "/v1/analytics")):
        return {"Authorization": f"Bearer {_agent_token()}"}
    if path == "/v1/events":
        return {"X-API-Key": API_KEY}
    if path.startswith("/v1/orders/"):
        order_id = str((case.path_parameters or {}).get("order_id", "ORD-0"))
        token = issue_customer_token(SecretStr(CUSTOMER_SECRET), order_id, datetime.now(UTC), 600)
        return {"Authorization": f"Bearer {token}"}
    return {}


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("WISMO_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_contract(case: schemathesis.Case, api_url: str) -> None:
    skipped = as_sent(case)
    headers = {**(case.headers or {}), **_credentials(case)}
    checks_run = [check for check in CHECKS if check not in skipped]
    case.call_and_validate(base_url=api_url, headers=headers, checks=checks_run)


# hand-made abuse ------------------------------------------------------------------------------

BODY_ROUTES = ["/v1/webhooks/oms", "/v1/events", "/v1/lookup"]


def _json_headers(path: str, content_type: str = "application/json") -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if path == "/v1/events":
        headers["X-API-Key"] = API_KEY
    return headers


class _FromAddress(HTTPAdapter):
    """Connects from one loopback address: the lookup throttle counts per client address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


_clients = itertools.count(2)


def post(url: str, data: Any, headers: dict[str, str]) -> requests.Response:
    """POST from a loopback address of its own (127.0.x.y), so no request is throttled."""
    n = next(_clients)
    with requests.Session() as session:
        session.mount("http://", _FromAddress(f"127.0.{n // 250 % 250}.{n % 250 + 2}"))
        return session.post(url, data=data, headers=headers, timeout=30)


def _refused(response: requests.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    body: dict[str, Any] = response.json()
    assert body["error"]
    assert body["reason"]
    return body


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_oversized_bodies_are_413(api_url: str, path: str) -> None:
    big = b'{"pad": "' + b"x" * (MAX_BODY + 1) + b'"}'
    _refused(post(api_url + path, data=big, headers=_json_headers(path)), 413)

    def streamed() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(40):
            yield b"x" * 4096

    _refused(post(api_url + path, data=streamed(), headers=_json_headers(path)), 413)


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_wrong_content_types_are_415(api_url: str, path: str, content_type: str) -> None:
    headers = _json_headers(path, content_type)
    response = post(api_url + path, data=b'{"order_number": "1"}', headers=headers)
    _refused(response, 415)


BAD_JSON = {
    "invalid-utf8": b'{"order_number": "\xff\xfe\xfa", "email": "a@b.c"}',
    "lone-surrogate": b'{"order_number": "\\ud800", "email": "a@b.c"}',
    "deeply-nested": b"[" * 10_000 + b"]" * 10_000,
    "deeply-nested-objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "huge-array": b"[" + b",".join([b"{}"] * 20_000) + b"]",
    "not-json": b"{'single': 'quotes'}",
    "truncated": b'{"order_number": "1',
    "nan": b'{"order_number": NaN, "email": "a@b.c"}',
    "scalar": b"42",
    "null": b"null",
    "empty": b"",
    "bom": b'\xef\xbb\xbf{"order_number": "1", "email": "a@b.c"}',
    "nul-bytes": b'{"order_number": "1\\u0000", "email": "a@b.c\x00"}',
    "huge-number": b'{"order_number": 1' + b"0" * 5000 + b', "email": "a@b.c"}',
}


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_malformed_json_is_a_4xx_with_a_reason(api_url: str, path: str, name: str) -> None:
    response = post(api_url + path, data=BAD_JSON[name], headers=_json_headers(path))
    # a webhook without a signature stops at 401 before its body is read as JSON
    _refused(response, 400, 401, 404, 413, 415, 422)
    assert _serving(api_url)


def test_unknown_routes_methods_and_hostile_paths_are_4xx(api_url: str) -> None:
    for method, path in [
        ("GET", "/v1/nope"),
        ("DELETE", "/v1/orders/ORD-0"),
        ("PUT", "/v1/lookup"),
        ("GET", "/v1/orders/" + "A" * 8000),
        ("GET", "/v1/tracking/%00%ff"),
        ("GET", "/v1/orders/..%2f..%2fetc%2fpasswd"),
        ("POST", "/v1/webhooks/" + "x" * 2000),
    ]:
        response = requests.request(method, api_url + path, data=b"{}", timeout=10)
        assert 400 <= response.status_code < 500, (method, path[:40], response.status_code)
    assert _serving(api_url)


#: frames that make no sense but prove nothing wrong about the client: each gets an error frame
#: and the socket stays (a wrong token, by contrast, closes it: see tests/security)
WS_FRAMES = [
    "",
    "not json",
    "[]",
    "42",
    "null",
    '{"type": "subscribe"}',
    '{"type": "subscribe", "order_id": 7}',
    '{"type": "subscribe", "order_id": "ORD-0", "token": 12}',
    '{"type": "subscribe", "order_id": "ORD-0", "version": "latest"}',
    '{"type": "subscribe", "order_id": "ORD-0", "version": -1}',
    '{"type": "unsubscribe"}',
    '{"type": "dance"}',
    "[" * 5000 + "]" * 5000,
    '{"type": "subscribe", "order_id": ["' + "\\u00ff" * 2000 + '"]}',
]


async def _websocket_abuse(url: str) -> tuple[list[dict[str, Any]], int | None]:
    import aiohttp

    replies: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/v1/ws") as ws:
        for frame in WS_FRAMES:
            await ws.send_str(frame)
            reply = await ws.receive(timeout=10)
            assert reply.type is aiohttp.WSMsgType.TEXT, (frame[:40], reply)
            replies.append(json.loads(reply.data))
        await ws.send_bytes(b"\xff\xfe binary frames are ignored")
        await ws.send_str("{")
        after = await ws.receive(timeout=10)
        assert after.type is aiohttp.WSMsgType.TEXT, (after, ws.close_code)
        replies.append(json.loads(after.data))
        await ws.send_str("x" * (64 * 1024))  # over the frame limit: the socket is closed
        closing = await ws.receive(timeout=10)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        return replies, ws.close_code


def test_websocket_messages_that_make_no_sense_get_error_frames(api_url: str) -> None:
    replies, code = asyncio.run(_websocket_abuse(api_url))
    assert len(replies) == len(WS_FRAMES) + 1
    assert all(reply["type"] == "error" and reply["reason"] for reply in replies)
    assert code == 1009  # message too big, not an internal error
    assert _serving(api_url)
