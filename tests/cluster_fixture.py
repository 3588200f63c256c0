"""A real three-master Redis Cluster on 127.0.0.1 for the test session, and stores on it.

``redis_cluster_url`` starts three ``redis-server --cluster-enabled yes`` on free ports (each with
its cluster bus port, +10000, free too), joins them with ``redis-cli --cluster create`` and waits
until every node says ``cluster_state:ok``; the servers stop when the session ends. Tests using it
are skipped, saying why, when ``redis-server`` or ``redis-cli`` is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from projections.redis_store import RedisTimelineStore

_MASTERS = 3
_READY_S = 20.0
_NODE_OPTIONS = ["--cluster-enabled", "yes", "--bind", "127.0.0.1", "--save", ""]
_NODE_OPTIONS += ["--appendonly", "no", "--cluster-node-timeout", "5000"]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (+10000) is free too."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 < 65536 and port not in found and _free(port + 10000):
            found.append(port)
    return found


def _cluster_ok(port: int) -> bool:
    reply = subprocess.run(
        ["redis-cli", "-p", str(port), "cluster", "info"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return "cluster_state:ok" in reply.stdout


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT`` of the first of three cluster masters."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("Redis Cluster tests need redis-server and redis-cli on PATH")
    home: Path = tmp_path_factory.mktemp("redis-cluster")
    ports = _ports(_MASTERS)
    servers = [
        subprocess.Popen(
            [
                server,
                *_NODE_OPTIONS,
                "--port",
                str(port),
                "--dir",
                str(home),
                "--cluster-config-file",
                str(home / f"nodes-{port}.conf"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + _READY_S
        while not all(not _free(port) for port in ports):
            if time.monotonic() > deadline:
                pytest.fail("the Redis Cluster nodes did not start listening")
            time.sleep(0.05)
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        while not all(_cluster_ok(port) for port in ports):
            if time.monotonic() > deadline:
                pytest.fail("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


async def drop_cluster_prefix(client: RedisCluster, prefix: str) -> None:
    """Delete every key under ``prefix`` on every master (one key per DEL: any slot)."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(key)
        await pipe.execute()


@pytest.fixture
async def redis_cluster_client(
    redis_cluster_url: str, redis_prefix: str
) -> AsyncIterator[aioredis.Redis]:
    """A cluster client (typed as the plain client the stores take); the test's keys dropped
    after."""
    client = RedisCluster.from_url(redis_cluster_url)
    await client.initialize()
    try:
        yield client  # type: ignore[misc]
    finally:
        await drop_cluster_prefix(client, redis_prefix)
        await client.aclose()


@pytest.fixture
async def redis_cluster_store(
    redis_cluster_client: aioredis.Redis, redis_prefix: str, redis_cluster_url: str
) -> RedisTimelineStore:
    return RedisTimelineStore(redis_cluster_client, redis_prefix, url=redis_cluster_url)
