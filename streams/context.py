"""What the agents of one process share: the app, its topics, metrics and lazily opened stores.

Clients are opened on first use, inside the worker's event loop, and live as long as the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import faust
from mode import Service
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.errors import StoreConflict, StoreUnavailable
from projections.links import LinkIndex
from streams.batching import HopSpans, take_window
from streams.metrics import StreamMetrics
from wismo.settings import Settings
from wismo.topics import (
    DEADLETTER,
    EVENTS,
    EXCEPTIONS,
    NOTIFICATIONS,
    RAW,
    TIMELINE,
    TRACKING,
)

if TYPE_CHECKING:
    from projections.redis_store import RedisTimelineStore

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Failures worth waiting out: the batch is retried, never dropped.
TRANSIENT = (
    StoreUnavailable,
    StoreConflict,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Topics:
    raw: Any
    events: Any
    tracking: Any
    timeline: Any
    exceptions: Any
    deadletter: Any
    notifications: Any

    def by_name(self, logical: str) -> Any:
        return {
            RAW: self.raw,
            EVENTS: self.events,
            TRACKING: self.tracking,
            TIMELINE: self.timeline,
            EXCEPTIONS: self.exceptions,
            DEADLETTER: self.deadletter,
            NOTIFICATIONS: self.notifications,
        }[logical]


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    def topic(logical: str) -> Any:
        return app.topic(
            settings.topic(logical),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.kafka.partitions,
        )

    logical = (RAW, EVENTS, TRACKING, TIMELINE, EXCEPTIONS, DEADLETTER, NOTIFICATIONS)
    return Topics(*(topic(name) for name in logical))


@dataclass
class StreamContext:
    settings: Settings
    app: faust.App
    topics: Topics
    metrics: StreamMetrics = field(default_factory=StreamMetrics)
    spans: HopSpans | None = field(default_factory=HopSpans.from_environment)
    """Where each hop's messages wait (``wismo bench hops``); ``None``: not recorded."""
    _redis: Redis | None = field(default=None, init=False)
    _store: RedisTimelineStore | None = field(default=None, init=False)
    _links: LinkIndex | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def batches(self, stream: Any, agent: str) -> AsyncIterator[list[Any]]:
        """The agent's batches of Faust events: up to ``settings.kafka.batch_size`` within
        ``settings.kafka.batch_timeout_s`` (:func:`streams.batching.take_window`), with their
        spans recorded when ``wismo bench hops`` asks."""
        kafka = self.settings.kafka
        return take_window(
            stream, kafka.batch_size, kafka.batch_timeout_s, agent=agent, spans=self.spans
        )

    async def redis(self) -> Redis:
        async with self._lock:
            if self._redis is None:
                from projections.connections import redis_client

                self._redis = await retrying(
                    lambda: redis_client(self.settings), self.metrics, "redis"
                )
            return self._redis

    async def timeline_store(self) -> RedisTimelineStore:
        if self._store is None:
            from projections.redis_store import RedisTimelineStore

            client = await self.redis()
            redis = self.settings.redis
            self._store = RedisTimelineStore(
                client,
                redis.key_prefix,
                url=redis.url or "redis",
                cache_orders=redis.cache_orders,
                link_shipments=False,  # the link agent links, in partition order
                retention_s=self.settings.retention.redis_s,
            )
        return self._store

    async def links(self) -> LinkIndex:
        if self._links is None:
            redis = self.settings.redis
            self._links = LinkIndex(await self.redis(), redis.key_prefix, url=redis.url or "redis")
        return self._links

    async def send(
        self,
        agent: str,
        logical: str,
        key: str | bytes | None,
        value: bytes,
        headers: Any = None,
    ) -> Awaitable[Any]:
        """Queue a message; returns the future of its delivery (await it before acking input).

        Once Faust's producer runs, the message goes straight to its aiokafka producer: Faust's
        own ``Topic.send`` path gives the event loop a turn per message, so the producer's
        sender shipped a request of one or two messages at a time — a batch of 500 timeline
        updates took ~380 µs per message (profiled) where queueing them all and letting the
        sender ship them in one request per partition costs ~25 µs. Same producer, same
        partitioner, same acks.
        """
        self.metrics.events_out.labels(agent, logical).inc()
        encoded_key = key.encode() if isinstance(key, str) else key
        topic = self.topics.by_name(logical)
        producer = getattr(self.app.producer, "_producer", None)
        if producer is None:  # not started yet (or a test double): Faust's own path
            fut: Awaitable[Any] = await topic.send(
                key=encoded_key, value=value, headers=headers, force=True
            )
            return fut
        if isinstance(headers, Mapping):
            headers = list(headers.items())
        queued: Awaitable[Any] = await producer.send(
            topic.get_topic_name(), value, key=encoded_key, headers=headers
        )
        return queued

    def attach(self, service: Service) -> None:
        """Start ``service`` with the app (after the agents) and stop it with the app."""

        async def start_service() -> None:
            await self.app.add_runtime_dependency(service)

        self.app.task(start_service)


async def retrying(operation: Callable[[], Awaitable[T]], metrics: StreamMetrics, store: str) -> T:
    """Run ``operation`` until it succeeds, backing off on transient failures (never giving up:
    the partition waits for the store rather than losing the batch)."""
    delay = 0.05
    while True:
        try:
            return await operation()
        except TRANSIENT as error:
            metrics.retries.labels(store).inc()
            log.warning("%s unavailable, retrying in %.2fs: %s", store, delay, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
