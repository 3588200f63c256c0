"""The Faust application factory. There is no module-level app: every worker, test and benchmark
builds its own with :func:`create_app`.

The app runs ``at_least_once`` (Tansu has no transactions, and every projection write is
idempotent anyway), with short group-session timeouts from ``settings.kafka`` so a worker joins
its group in seconds rather than after Kafka's 30 s default.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import orjson
from faust.serializers import codecs

from wismo.settings import Settings

ORJSON = "orjson"


class OrjsonCodec(codecs.Codec):
    """JSON through orjson: several times faster than the standard library on our records."""

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def install_codecs() -> None:
    if ORJSON not in codecs.codecs:
        codecs.register(ORJSON, OrjsonCodec())


def use_uvloop() -> None:
    """Run on uvloop (+25 % for Faust's per-message machinery); call before the loop exists."""
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


#: Faust creates its consumers with ``fetch_max_wait_ms=1500`` and no setting to change it. A
#: broker answers a waiting fetch as soon as data arrives, but the embedded one (Tansu) does not
#: wake a group member's fetch: each agent hop then waited ~0.75 s on average (measured), which
#: is the whole webhook → websocket latency. An idle consumer polling every 10 ms costs little.
FETCH_MAX_WAIT_MS = 10


def bound_fetch_wait() -> None:
    """Make Faust's consumers wait at most :data:`FETCH_MAX_WAIT_MS` for a fetch (idempotent)."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    create = thread._create_worker_consumer
    if getattr(create, "bounded_fetch_wait", False):
        return

    def bounded(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer

    bounded.bounded_fetch_wait = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = bounded  # type: ignore[method-assign]


#: Faust's default producer batch is 16 KB: a few timelines (several KB each) per produce request,
#: so the timeline agent spent more time in request round trips than in its own work (profiled).
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


def create_worker(app: faust.App, *, loglevel: str, **options: Any) -> faust.Worker:
    """A Faust worker for ``app`` without the terminal spinner.

    Faust's spinner, installed whenever the log level is WARNING or above, sets the *root*
    logger to DEBUG so that it can spin on every record: every debug call of aiokafka and Faust
    then builds a log record nobody prints (~8 % of a busy worker's time, profiled).
    """
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False, console_port=0, **options)
    worker.spinner = None
    return worker


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{address.strip()}" for address in bootstrap.split(",") if address.strip()]


def create_app(settings: Settings, *, web_port: int = 6066, app_id: str | None = None) -> faust.App:
    """A Faust app on ``settings.kafka``; agents are added by :mod:`cli.runtime.roles`.

    ``web_port`` must differ between workers on one host (Faust binds it in every worker).
    """
    kafka = settings.kafka
    if kafka.bootstrap is None:
        raise ValueError("settings.kafka.bootstrap is not set; start the embedded services first")
    install_codecs()
    bound_fetch_wait()
    return faust.App(
        app_id or f"{kafka.topic_prefix}-streams",
        broker=broker_urls(kafka.bootstrap),
        processing_guarantee="at_least_once",
        broker_session_timeout=kafka.session_timeout_s,
        broker_rebalance_timeout=kafka.rebalance_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_interval_s,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        topic_allow_declare=True,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        datadir=str(settings.data_dir / "faust"),
        web_enabled=True,
        web_host="127.0.0.1",
        web_port=web_port,
        web_in_thread=False,
        autodiscover=False,
    )
