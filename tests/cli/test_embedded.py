"""The embedded launcher starts real services, resolves the settings and stops what it started."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cli.runtime.embedded import EmbeddedServices, read_services, running_settings
from wismo.probes import kafka_metadata_ok, redis_ping
from wismo.settings import KafkaSettings, RedisSettings, Settings


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port.split("/")[0])


def test_starts_broker_private_redis_and_chdb_path_then_stops_them(tmp_path: Path) -> None:
    requested = Settings(data_dir=tmp_path / "data")
    with EmbeddedServices(requested, use_local_redis=False) as services:
        settings = services.settings
        assert settings.kafka.bootstrap is not None
        assert settings.redis.url is not None
        broker = _host_port(settings.kafka.bootstrap)
        redis_address = _host_port(settings.redis.url.removeprefix("redis://"))
        assert kafka_metadata_ok(*broker)
        client = redis.Redis.from_url(settings.redis.url)
        assert client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        assert settings.chdb_path == (tmp_path / "data" / "chdb").resolve()
        assert settings.chdb_path.is_dir()
        # everything else is carried over untouched
        assert settings.kafka.partitions == requested.kafka.partitions
        assert settings.data_dir == requested.data_dir
    assert not kafka_metadata_ok(*broker)
    assert not redis_ping(*redis_address)


def test_configured_endpoints_are_used_as_given(tmp_path: Path) -> None:
    requested = Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(bootstrap="kafka.example:9092"),
        redis=RedisSettings(url="redis://redis.example:6379/3"),
    )
    with EmbeddedServices(requested) as services:
        assert services.settings.kafka.bootstrap == "kafka.example:9092"
        assert services.settings.redis.url == "redis://redis.example:6379/3"
        assert [line for line in services.started if "kafka" in line or "redis" in line] == []


async def test_async_broker_carries_kafka_messages(tmp_path: Path) -> None:
    async with EmbeddedServices(Settings(data_dir=tmp_path)) as services:
        bootstrap = services.settings.kafka.bootstrap
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("probe", b"hello", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            "probe", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            message = await consumer.getone()
        finally:
            await consumer.stop()
        assert (message.key, message.value) == (b"k", b"hello")


def test_private_redis_keeps_its_data_across_a_stop_and_start(tmp_path: Path) -> None:
    requested = Settings(data_dir=tmp_path / "data")
    with EmbeddedServices(requested, use_local_redis=False) as services:
        assert services.settings.redis.url is not None
        client = redis.Redis.from_url(services.settings.redis.url)
        client.hset("wismo:{100000}:state", mapping={"json": b"{}", "version": 18})
        client.zadd("wismo:exceptions:open", {"100000": 1.0})
        client.close()
    with EmbeddedServices(requested, use_local_redis=False) as services:
        assert services.settings.redis.url is not None
        client = redis.Redis.from_url(services.settings.redis.url)
        assert client.hget("wismo:{100000}:state", "version") == b"18"
        assert client.zscore("wismo:exceptions:open", "100000") == 1.0
        client.close()
    assert (tmp_path / "data" / "redis").is_dir()


def test_addresses_are_recorded_in_the_data_dir_and_kept_across_restarts(tmp_path: Path) -> None:
    requested = Settings(data_dir=tmp_path / "data")
    with EmbeddedServices(requested, use_local_redis=False) as services:
        first = services.settings
    recorded = read_services(tmp_path / "data")
    assert recorded["kafka"] == first.kafka.bootstrap
    assert recorded["redis"] == first.redis.url
    found = running_settings(Settings(data_dir=tmp_path / "data"))
    assert found.kafka.bootstrap == first.kafka.bootstrap
    assert found.redis.url == first.redis.url
    with EmbeddedServices(requested, use_local_redis=False) as services:
        assert services.settings.kafka.bootstrap == first.kafka.bootstrap
        assert services.settings.redis.url == first.redis.url


_LAUNCHER = """
import sys, time
from pathlib import Path
from cli.runtime.embedded import EmbeddedServices, read_services, running_settings
from wismo.settings import Settings
services = EmbeddedServices(
    Settings(data_dir=Path(sys.argv[1])), use_local_redis=False, tie_to_process=True
)
services.start()
print(services.settings.kafka.bootstrap, services.settings.redis.url, flush=True)
time.sleep(600)
"""


def test_services_tied_to_the_process_die_with_it_on_kill_9(tmp_path: Path) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout is not None
        bootstrap, url = launcher.stdout.readline().split()
        broker = _host_port(bootstrap)
        redis_address = _host_port(url.removeprefix("redis://"))
        assert kafka_metadata_ok(*broker)
        assert redis_ping(*redis_address)
    finally:
        launcher.kill()
        launcher.wait()
        if launcher.stdout is not None:
            launcher.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        kafka_metadata_ok(*broker) or redis_ping(*redis_address)
    ):
        time.sleep(0.1)
    assert not kafka_metadata_ok(*broker), "the broker outlived its parent"
    assert not redis_ping(*redis_address), "redis-server outlived its parent"
