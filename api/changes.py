"""The process's one Redis pub/sub connection: the store's change announcements, fanned out in
memory to whoever registered (the customer view cache, the websocket hub).

The store publishes each new timeline on ``P:timeline:ORDER`` and a summary of every change on
``P:agents`` (see :mod:`projections.redis_store`). The agents channel is always subscribed; an
order channel only while some local websocket watches that order (reference-counted). Handlers
are plain callables that must not block: they queue work and return.

**Live or not.** Whoever keeps something derived from Redis in memory (the customer view cache,
:mod:`api.order_cache`) needs to know whether every change reaches it. The feed is :attr:`live`
from the moment Redis confirms the agents subscription — Redis is single-threaded, so a read sent
after that confirmation is ordered before any later publish — for as long as the connection keeps
answering: an idle feed pings every second and counts as stale after :data:`STALE_AFTER_S`
without hearing anything. A read error, or a confirmation of a re-subscription (redis-py
reconnects and re-subscribes on its own, and whatever was published in between is lost), calls
the ``reset_handlers``: what was kept may have missed changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.background import stop
from api.errors import Unavailable
from projections.connections import is_cluster
from projections.redis_store import RedisKeys

log = logging.getLogger(__name__)

SummaryHandler = Callable[[dict[str, Any]], None]
TimelineHandler = Callable[[str, bytes, float], None]
ResetHandler = Callable[[], None]
_RETRY_S = 0.5
_POLL_S = 1.0  # how long a read waits before the stop flag is looked at (and a ping is sent)
#: silence (not even the answer to a ping) for this long and the feed no longer counts as live
STALE_AFTER_S = 3.0
#: longest a watch on a Redis Cluster waits for its subscription's confirmation
_CONFIRM_S = 2.0


class ChangeFeed:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self.keys = keys
        # subscribe confirmations are wanted: the agents channel's says the feed is live
        self.pubsub = client.pubsub(ignore_subscribe_messages=False)
        self.summary_handlers: list[SummaryHandler] = []
        self.timeline_handlers: list[TimelineHandler] = []
        self.reset_handlers: list[ResetHandler] = []
        self._agents = keys.agents_channel.encode()
        self._confirmed = False
        self._heard = 0.0
        self._watched: dict[str, int] = {}
        self._order_prefix = keys.order_channel("")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._listening = False
        # on a Redis Cluster a publish reaches this node over the cluster bus, which may overtake
        # a subscription still in flight: there ``watch`` waits for the confirmation
        self._confirm = is_cluster(client)
        self._confirming: dict[bytes, asyncio.Future[None]] = {}

    async def start(self) -> None:
        """Begin listening; a Redis that is down now is retried (``/readyz`` says so meanwhile)."""
        with contextlib.suppress(RedisError, OSError):
            await self._subscribe_agents()
        self._task = asyncio.create_task(self._listen(), name="wismo-change-feed")

    async def _subscribe_agents(self) -> None:
        # once subscribed, redis-py re-subscribes every channel itself after a reconnect
        await self.pubsub.subscribe(self.keys.agents_channel)
        self._listening = True

    async def watch(self, order_id: str) -> None:
        count = self._watched.get(order_id, 0)
        self._watched[order_id] = count + 1
        if count == 0:
            channel = self.keys.order_channel(order_id)
            waiter = asyncio.get_running_loop().create_future()
            if self._confirm and self._task is not None:
                self._confirming[channel.encode()] = waiter
            try:
                await self.pubsub.subscribe(channel)
                if channel.encode() in self._confirming:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter, _CONFIRM_S)
            except (RedisError, OSError) as error:
                self._watched.pop(order_id, None)
                raise Unavailable("live updates are unavailable; retry shortly") from error
            finally:
                self._confirming.pop(channel.encode(), None)

    async def unwatch(self, order_id: str) -> None:
        count = self._watched.get(order_id, 0) - 1
        if count > 0:
            self._watched[order_id] = count
            return
        self._watched.pop(order_id, None)
        with contextlib.suppress(RedisError, OSError):
            await self.pubsub.unsubscribe(self.keys.order_channel(order_id))

    @property
    def watched(self) -> int:
        return len(self._watched)

    @property
    def live(self) -> bool:
        """Every change published from now on will reach the handlers (see the module doc)."""
        return self._confirmed and time.monotonic() - self._heard < STALE_AFTER_S

    def _reset(self, confirmed: bool) -> None:
        self._confirmed = confirmed
        for reset_handler in self.reset_handlers:
            reset_handler()

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                if not self._listening:
                    await self._subscribe_agents()
                message = await self.pubsub.get_message(timeout=_POLL_S)
                if message is None:
                    await self.pubsub.ping()  # its answer proves the connection still carries
            except (RedisError, OSError) as error:
                # redis-py reconnects and re-subscribes on the next read
                log.warning("change feed interrupted: %s", error)
                self._reset(confirmed=False)
                await asyncio.sleep(_RETRY_S)
                continue
            if message is None:
                continue
            self._heard = time.monotonic()
            kind = message.get("type")
            if kind == "message":
                self._dispatch(message["channel"], message["data"])
            elif kind == "subscribe" and _bytes(message["channel"]) == self._agents:
                # the first confirmation, or one after a reconnect that may have lost messages
                self._reset(confirmed=True)
            elif kind == "subscribe":
                waiter = self._confirming.get(_bytes(message["channel"]))
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    def _dispatch(self, channel: bytes | str, data: bytes) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        if name == self.keys.agents_channel:
            try:
                summary = orjson.loads(data)
            except orjson.JSONDecodeError:
                log.warning("undecodable change summary on %s", name)
                self._reset(self._confirmed)  # some order changed; which one is unknown
                return
            for summary_handler in self.summary_handlers:
                summary_handler(summary)
        elif name.startswith(self._order_prefix):
            order_id = name[len(self._order_prefix) :]
            arrived = time.perf_counter()
            for timeline_handler in self.timeline_handlers:
                timeline_handler(order_id, data, arrived)

    async def close(self) -> None:
        self._stopping = True
        self._reset(confirmed=False)
        if self._task is not None:
            await stop(self._task)
        await cast(Any, self.pubsub).aclose()  # typed in some redis releases, not in others


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()
