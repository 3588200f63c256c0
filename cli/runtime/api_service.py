"""The ``api`` role inside a stream worker: the aiohttp application on its own runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from mode import Service

from api.server import ApiRunner
from wismo.settings import Settings


class ApiService(Service):
    def __init__(
        self, settings: Settings, factory: Callable[[Settings], Any], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.factory = factory
        self._runner: ApiRunner | None = None

    async def on_start(self) -> None:
        application = self.factory(self.settings)
        if not isinstance(application, web.Application):  # an async factory
            application = await application
        self._runner = ApiRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.api.host, self.settings.api.port)
        await site.start()
        self.log.info(
            "api listening on http://%s:%s", self.settings.api.host, self.settings.api.port
        )

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
