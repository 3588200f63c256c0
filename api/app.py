"""The API application: ``create_app(settings)`` wires keys, routes and resources.

Resources live in ``cleanup_ctx`` generators, opened in order on startup and closed in reverse
on shutdown: the Redis client (and the timeline store and delivery ledger on it), then the Kafka
producer. A client or producer passed in by the caller is used as is and left open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from api import clickhouse, guards, keys
from api.auth import CapabilityTokens
from api.changes import ChangeFeed
from api.deliveries import DeliveryLedger
from api.kafka import open_producer
from api.metrics import ApiMetrics
from api.middleware import errors_and_metrics
from api.order_cache import OrderCache
from api.ratelimit import RateLimiter
from api.routes import add_routes
from api.timeline_reads import TimelineReads
from api.webhook_secrets import check_webhook_secrets
from api.ws import Hub
from projections.connections import redis_client
from projections.redis_store import RedisTimelineStore
from wismo.settings import Settings


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    redis: aioredis.Redis | None = None,
    producer: Any = None,
    clock: Callable[[], datetime] = _now,
) -> web.Application:
    check_webhook_secrets(settings)  # a malformed secret stops the start, named
    app = web.Application(
        middlewares=[errors_and_metrics],
        client_max_size=settings.api.max_body_bytes,
        handler_args=guards.HANDLER_ARGS,
    )
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock
    app[keys.METRICS] = ApiMetrics()
    app[keys.REQUEST_METRICS] = {}
    app[keys.WEBHOOK_LIMITER] = RateLimiter(
        settings.api.webhook_rate_per_s, settings.api.webhook_burst
    )
    app[keys.CAPABILITIES] = CapabilityTokens(
        settings.api.customer_token_secret, settings.api.token_cache_size
    )
    app.cleanup_ctx.append(_redis_context(redis))
    guards.install(app)
    clickhouse.install(app)
    app.cleanup_ctx.append(_producer_context(producer))
    app.cleanup_ctx.append(_live_context)
    app.on_shutdown.append(_close_websockets)
    add_routes(app)
    return app


def _redis_context(
    given: aioredis.Redis | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        client = given if given is not None else await redis_client(settings)
        prefix = settings.redis.key_prefix
        app[keys.REDIS] = client
        app[keys.STORE] = RedisTimelineStore(
            client,
            prefix,
            url=settings.redis.url or "redis",
            retention_s=settings.retention.redis_s,  # orders it re-reads from the log expire too
        )
        app[keys.TIMELINES] = TimelineReads(app[keys.STORE])
        app[keys.DELIVERIES] = DeliveryLedger(
            client, prefix, ttl_s=settings.api.delivery_dedup_ttl_s
        )
        yield
        await app[keys.STORE].close()
        if given is None:
            await client.aclose()

    return context


def _producer_context(given: Any) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        producer = given if given is not None else await open_producer(app[keys.SETTINGS])
        app[keys.PRODUCER] = producer
        yield
        if given is None:
            await producer.stop()

    return context


async def _live_context(app: web.Application) -> AsyncIterator[None]:
    """The pub/sub change feed and what hangs off it: the customer view cache and the websocket
    hub (whose connections are closed on shutdown, before this context ends).

    The agent index is written by the timeline store's commits; this process only reads it, and
    passes the exception rows a commit announces in its change summary on to agent feeds.
    """
    store = app[keys.STORE]
    feed = ChangeFeed(app[keys.REDIS], store.keys)
    views = OrderCache(app[keys.SETTINGS].api.order_cache_size, lambda: feed.live)
    # first in line: a changed order's entry is gone before anyone else hears of the change
    feed.summary_handlers.append(views.on_summary)
    feed.reset_handlers.append(views.reset)
    app[keys.ORDER_CACHE] = views
    settings = app[keys.SETTINGS]

    def exceptions(summary: dict[str, Any]) -> None:
        # ahead of the hub's own handler, which forwards the rest of the summary to agents
        rows = summary.pop("exceptions", None)
        if isinstance(rows, list) and rows:
            hub.on_exceptions(rows)

    feed.summary_handlers.append(exceptions)
    window = settings.selfservice.return_window_days
    hub = Hub(feed, app[keys.METRICS], settings.api.ws_queue_size, window, settings)
    app[keys.CHANGES], app[keys.AGENT_INDEX] = feed, store.agent_index
    app[keys.HUB] = hub
    await feed.start()
    yield
    await feed.close()


async def _close_websockets(app: web.Application) -> None:
    if keys.HUB in app:
        await app[keys.HUB].close_all()
