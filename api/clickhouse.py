"""This process's ClickHouse for the API's reads: analytics, re-reading an expired order, erasure.

Opened on first use and shared by every route of the process; ClickHouse calls run on the
handle's own worker thread, never the event loop. With a ClickHouse server any API process may
open one. With chDB only the process that holds the chDB path (the one running the
``warehouse`` role, e.g. ``wismo up``) can: another process would either fail on the path's lock
or, worse, take the lock from the writer; so the API only joins an engine that is already open
and otherwise answers 503 with the reason.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from dataclasses import dataclass, field

from aiohttp import web

from api.errors import Unavailable
from api.keys import SETTINGS
from projections.clickhouse_store import ClickHouse
from projections.errors import StoreError
from wismo.settings import Settings


@dataclass
class _Handle:
    """This process's ClickHouse for analytics, opened on first use."""

    ch: ClickHouse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


HANDLE = web.AppKey("analytics_clickhouse", _Handle)


def install(app: web.Application) -> None:
    app[HANDLE] = _Handle()
    app.on_cleanup.append(_close)


async def _close(app: web.Application) -> None:
    handle = app[HANDLE]
    if handle.ch is not None:
        await handle.ch.close()
        handle.ch = None


def chdb_is_open(settings: Settings) -> bool:
    """Whether some process holds the chDB path (the engine keeps ``status`` locked)."""
    status = settings.chdb_path / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


async def clickhouse(app: web.Application) -> ClickHouse:
    handle, settings = app[HANDLE], app[SETTINGS]
    async with handle.lock:
        if handle.ch is not None:
            return handle.ch
        embedded = settings.clickhouse.url is None
        if embedded and not chdb_is_open(settings):
            raise Unavailable(
                "this needs ClickHouse: no process holds the chDB path "
                f"{settings.chdb_path}; run the warehouse role with the api role "
                "(wismo up) or configure a ClickHouse server",
                retry_after_s=30,
            )
        try:
            handle.ch = await ClickHouse.connect(settings, migrate_schema=False)
        except StoreError as error:
            where = "another process holds the chDB path" if embedded else "it is unreachable"
            raise Unavailable(f"this needs ClickHouse and {where}: {error}") from error
        return handle.ch
