"""Clients for the backing services, built from settings, failing early with a clear error.

``redis_client`` needs ``settings.redis.url`` set: the embedded launcher fills it in when it
starts or finds a Redis. ``clickhouse_client`` talks HTTP when ``settings.clickhouse.url`` is set
and otherwise opens chDB in-process at ``settings.chdb_path`` (one chDB path per process).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from projections.errors import StoreUnavailable
from wismo.settings import Settings


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


MAX_CONNECTIONS = 100


async def redis_client(settings: Settings, *, timeout_s: float = 5.0) -> aioredis.Redis:
    """A connected async Redis client (bytes in, bytes out); raises :class:`StoreUnavailable`."""
    url = settings.redis.url
    if url is None:
        raise StoreUnavailable("Redis", "(embedded)", "no URL configured; start the embedded stack")
    try:
        # a burst (a thousand websockets subscribing at once) waits for a pooled connection,
        # where the default pool fails every request past its size with "Too many connections"
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout_s,
        )
        client = aioredis.Redis.from_pool(pool)
    except ValueError as error:
        raise StoreUnavailable("Redis", redacted(url), error) from error
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        raise StoreUnavailable("Redis", redacted(url), error) from error
    return client


def clickhouse_target(settings: Settings) -> str:
    """Where ClickHouse is, for messages: the redacted URL or the chDB path."""
    if settings.clickhouse.url is not None:
        return redacted(settings.clickhouse.url)
    return f"chdb://{settings.chdb_path}"


def clickhouse_client(settings: Settings) -> Any:
    """A clickhouse-connect client (HTTP or in-process chDB); raises :class:`StoreUnavailable`.

    The client has no database selected: the stores qualify table names with
    ``settings.clickhouse.database``, which :func:`projections.clickhouse_schema.migrate`
    creates.
    """
    import clickhouse_connect

    url = settings.clickhouse.url
    try:
        if url is not None:
            return clickhouse_connect.get_client(dsn=url, database="default", connect_timeout=5)
        settings.chdb_path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(interface="chdb", path=str(settings.chdb_path))
    except Exception as error:  # the drivers raise many unrelated types for "cannot connect"
        raise StoreUnavailable("ClickHouse", clickhouse_target(settings), error) from error
