"""Clients for the backing services, built from settings, failing early with a clear error.

``redis_client`` needs ``settings.redis.url`` set: the embedded launcher fills it in when it
starts or finds a Redis. With ``settings.redis.cluster`` the URL names any node of a Redis Cluster
and the client is a :class:`redis.asyncio.cluster.RedisCluster` (every store keeps the keys of one
script or transaction on one hash slot: :mod:`projections.redis_keys`). ``clickhouse_client``
talks HTTP when ``settings.clickhouse.url`` is set and otherwise opens chDB in-process at
``settings.chdb_path`` (one chDB path per process).
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

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
    if settings.redis.cluster:
        return await _cluster_client(url, timeout_s)
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


async def _cluster_client(url: str, timeout_s: float) -> aioredis.Redis:
    """A connected Redis Cluster client, typed as the plain client whose interface the stores use.

    The stores call only what both offer (pipelines, scripts, single-key commands, pub/sub), so
    the one type serves both; :func:`is_cluster` tells them apart where it matters.
    """
    try:
        cluster = RedisCluster.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            health_check_interval=30,
            max_connections=MAX_CONNECTIONS,
        )
    except ValueError as error:
        raise StoreUnavailable("Redis", redacted(url), error) from error
    try:
        await cluster.initialize()
        await cluster.ping()
    except (RedisError, RedisClusterException, OSError) as error:
        await cluster.aclose()
        raise StoreUnavailable("Redis", redacted(url), error) from error
    return cast("aioredis.Redis", cluster)


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


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
