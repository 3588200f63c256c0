"""Typed application keys: everything a handler reads from ``request.app``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import Counter, Histogram

from api.auth import CapabilityTokens
from api.changes import ChangeFeed
from api.deliveries import DeliveryLedger
from api.kafka import Producer
from api.metrics import ApiMetrics
from api.order_cache import OrderCache
from api.ratelimit import RateLimiter
from api.timeline_reads import TimelineReads
from api.ws import Hub
from projections.agent_index import AgentIndex
from projections.redis_store import RedisTimelineStore
from wismo.settings import Settings

Clock = Callable[[], datetime]
#: a request counter and latency histogram already bound to their labels
RequestMetrics = tuple[Counter, Histogram]

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
METRICS = web.AppKey("metrics", ApiMetrics)
#: (route template, method, status) → its bound metrics (see :mod:`api.middleware`)
REQUEST_METRICS: web.AppKey[dict[tuple[str, str, int], RequestMetrics]] = web.AppKey(
    "request_metrics"
)
WEBHOOK_LIMITER = web.AppKey("webhook_limiter", RateLimiter)
REDIS = web.AppKey("redis", aioredis.Redis)
STORE = web.AppKey("store", RedisTimelineStore)
DELIVERIES = web.AppKey("deliveries", DeliveryLedger)
AGENT_INDEX = web.AppKey("agent_index", AgentIndex)
CHANGES = web.AppKey("changes", ChangeFeed)
HUB = web.AppKey("hub", Hub)
CAPABILITIES = web.AppKey("capabilities", CapabilityTokens)
ORDER_CACHE = web.AppKey("order_cache", OrderCache)
TIMELINES = web.AppKey("timelines", TimelineReads)
#: an ``aiokafka.AIOKafkaProducer`` (or anything with its ``send``)
PRODUCER: web.AppKey[Producer] = web.AppKey("producer")
