"""Operations: liveness, readiness (Redis and the broker answer), metrics, the API description."""

from __future__ import annotations

import asyncio
from functools import cache
from importlib import resources
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from api.keys import METRICS, REDIS, SETTINGS
from api.views.respond import json
from wismo.probes import kafka_metadata_ok

CHECK_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    """The process serves requests (nothing else is checked: restarting will not fix a broker)."""
    return json({"status": "ok"})


async def _redis_ok(request: web.Request) -> bool:
    try:
        return bool(await asyncio.wait_for(request.app[REDIS].ping(), CHECK_TIMEOUT_S))
    except (RedisError, OSError, TimeoutError):
        return False


def _broker_ok(bootstrap: str) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if port.isdigit() and kafka_metadata_ok(host or "127.0.0.1", int(port), CHECK_TIMEOUT_S):
            return True
    return False


async def readyz(request: web.Request) -> web.Response:
    bootstrap = request.app[SETTINGS].kafka.bootstrap or ""
    redis_ok, kafka_ok = await asyncio.gather(
        _redis_ok(request), asyncio.to_thread(_broker_ok, bootstrap)
    )
    checks = {
        "redis": "ok" if redis_ok else "unreachable",
        "kafka": "ok" if kafka_ok else "unreachable",
    }
    ready = redis_ok and kafka_ok
    return json(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@cache
def openapi_document() -> dict[str, Any]:
    text = resources.files("api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


async def openapi(request: web.Request) -> web.Response:
    return json(openapi_document(), headers={"Cache-Control": "public, max-age=300"})
