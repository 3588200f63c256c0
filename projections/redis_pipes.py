"""Round trips to Redis for the read model's parts: pipelines, Lua scripts, errors.

Every part (writer, reader, link index, agent index) talks through one of these: a lost
connection becomes :class:`~projections.errors.StoreUnavailable`, and scripts Redis no longer
knows (after a restart or failover) are loaded again once. The client may be a Redis Cluster
client: its pipelines split by node, so every script's keys share one hash slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.connections import is_cluster
from projections.errors import StoreUnavailable

#: builds one pipeline: queue commands on the pipe given
Build = Callable[[Any], object]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def evalsha(pipe: Any, sha: str, numkeys: int, *keys_and_args: Any) -> None:
    """Queue a script by its SHA on a pipeline, plain or cluster (whose pipeline refuses its own
    ``evalsha`` method but routes the raw command by the script's keys)."""
    pipe.execute_command("EVALSHA", sha, numkeys, *keys_and_args)


class RedisPipes:
    """Pipelines on a client the caller owns, with the named Lua ``scripts`` loaded on first use."""

    def __init__(
        self, client: aioredis.Redis, url: str = "redis", scripts: Mapping[str, str] | None = None
    ) -> None:
        self.client = client
        self.url = url
        self.cluster = is_cluster(client)
        """On a Redis Cluster a pipeline's commands on different nodes run in no set order."""
        self._sources = dict(scripts or {})
        self.shas = dict.fromkeys(self._sources, "")

    @asynccontextmanager
    async def talking(self) -> AsyncIterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise StoreUnavailable("Redis", self.url, error) from error

    async def _load_scripts(self) -> None:
        for name, source in self._sources.items():
            self.shas[name] = await self.client.script_load(source)

    async def execute(self, build: Build, *, scripted: bool = False) -> list[Any]:
        """Run a pipeline built by ``build(pipe)`` (one round trip); ``scripted``: it runs
        scripts, loaded first if this process has not yet, and once more if Redis lost them."""
        async with self.talking():
            if scripted and not all(self.shas.values()):
                await self._load_scripts()
            for attempt in (1, 2):
                pipe = self.client.pipeline(transaction=False)
                build(pipe)
                try:
                    results: list[Any] = await pipe.execute()
                except NoScriptError:
                    if attempt == 2:
                        raise
                    await self._load_scripts()
                    continue
                return results
        raise AssertionError("unreachable")
