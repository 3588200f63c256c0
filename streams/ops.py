"""The worker's own HTTP endpoint: ``/metrics`` (Prometheus) and ``/healthz`` (the watchdog).

It is registered as the Faust app's web server, so each worker binds exactly one port of its
choosing (``--web-port``) and Faust's legacy web stack is never built.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from mode import Service

from streams.context import StreamContext
from streams.watchdog import Health, Offsets, Watchdog

SAMPLE_EVERY_S = 5.0


def consumer_offsets(app: Any) -> Offsets:
    """Committed offset and high-water mark of every partition assigned to this worker."""
    consumer = app.consumer
    offsets: dict[str, tuple[int, int]] = {}
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        committed = consumer._committed_offset.get(tp)  # Faust keeps no public accessor
        if high is None:
            continue
        offsets[f"{tp.topic}/{tp.partition}"] = (committed if committed is not None else 0, high)
    return offsets


class OpsServer(Service):
    def __init__(
        self,
        ctx: StreamContext,
        port: int,
        stall_after_s: float = 60.0,
        *,
        host: str = "127.0.0.1",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.port = port
        self.host = host
        self.watchdog = Watchdog(stall_after_s)
        self.health = Health(0, 0.0, True)
        self._runner: web.AppRunner | None = None

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def on_start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.add_future(self._sample_forever())

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _sample_forever(self) -> None:
        while not self.should_stop:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY_S)

    def sample(self) -> Health:
        try:
            offsets = consumer_offsets(self.ctx.app)
        except Exception:  # the consumer is not up yet (or rebalancing): nothing to judge
            return self.health
        for name, (committed, high) in offsets.items():
            topic, _, partition = name.rpartition("/")
            self.ctx.metrics.consumer_lag.labels(topic, partition).set(max(high - committed, 0))
        self.health = self.watchdog.observe(offsets, time.monotonic())
        self.ctx.metrics.stalled.set(0 if self.health.healthy else 1)
        return self.health

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.ctx.metrics.exposition(), content_type="text/plain")

    async def _healthz(self, request: web.Request) -> web.Response:
        health = self.sample()
        return web.json_response(health.as_dict(), status=200 if health.healthy else 503)
