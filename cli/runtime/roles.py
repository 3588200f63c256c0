"""Roles compose in one process: ``wismo run --roles normalise,timeline,warehouse``.

==========  =====================================================================================
role        what the process runs
==========  =====================================================================================
normalise   the normalise agent (raw → canonical) and the link agent (scans → their order)
timeline    the timeline agent (canonical events → Redis timelines → timeline topic)
warehouse   the ClickHouse writer, its own consumer group. With chDB only one process may hold it
sweeper     clock-driven exception detection (``streams.agents.sweeper``)
notify      outbound messages: plans them as timelines change, sends them as they fall due
            (``streams.agents.notify``; docs/notifications.md); with ``cases.enabled``, a
            Salesforce case per escalation (``streams.agents.cases``; integrations.md, "Cases")
poll        re-checks carriers for live parcels and publishes what changed as raw payloads;
            registers trackers (``streams.agents.poll``; docs/integrations.md, "Polling")
api         the aiohttp API (``api.app.create_app``) on its own runner inside the worker
==========  =====================================================================================

``wismo worker`` runs every stream role (all but ``api``); ``wismo up`` runs all of them.
Processes with the same agent roles share partitions (see :func:`group_id`): scale the timeline
by starting more ``wismo run --roles timeline`` processes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from api.app import create_app as create_api
from api.kafka import open_producer
from cli.runtime.api_service import ApiService
from cli.runtime.durability import IntakeGuard
from cli.runtime.journal import Journal, JournalingProducer
from cli.runtime.settle import Offsets, up_groups
from streams.agents import cases, link, normalise, notify, poll, sweeper, timeline, warehouse
from streams.app import create_app, create_worker, use_uvloop
from streams.context import StreamContext, declare_topics
from streams.errors import UnknownRole
from streams.logs import logging_config
from streams.ops import OpsServer
from wismo.gc_tuning import tune_gc
from wismo.settings import Settings
from wismo.topics import ensure_topics

log = logging.getLogger(__name__)

ROLE_NAMES = ("normalise", "timeline", "warehouse", "sweeper", "notify", "poll", "api")
STREAM_ROLES = ("normalise", "timeline", "warehouse", "sweeper", "notify", "poll")


def parse_roles(text: str | Iterable[str]) -> tuple[str, ...]:
    """Role names from ``a,b,c`` (or a list), validated, duplicates removed, in canonical order."""
    names = text.split(",") if isinstance(text, str) else list(text)
    wanted = {name.strip() for name in names if name.strip()}
    unknown = sorted(wanted - set(ROLE_NAMES))
    if unknown:
        raise UnknownRole(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLE_NAMES)}")
    if not wanted:
        raise UnknownRole(f"no roles given; known: {', '.join(ROLE_NAMES)}")
    return tuple(name for name in ROLE_NAMES if name in wanted)


#: Roles that are Faust agents, consuming in the app's consumer group.
AGENT_ROLES = ("normalise", "timeline", "sweeper", "notify", "poll")


def group_id(settings: Settings, roles: Iterable[str]) -> str:
    """The Faust app id (= consumer group) of a process running ``roles``.

    Processes running the same agent roles share their partitions; a process with other roles
    is another group. Faust's assignor hands every member partitions of every topic the group
    reads, so members with different agents must not share a group.
    """
    agents = [role for role in AGENT_ROLES if role in set(roles)]
    return ".".join([settings.kafka.topic_prefix, *(agents or ["services"])])


def build(
    settings: Settings,
    roles: Iterable[str],
    *,
    web_port: int,
    web_host: str = "127.0.0.1",
    journal: Journal | None = None,
) -> StreamContext:
    """A Faust app carrying the agents and services of ``roles``.

    With a ``journal`` (``wismo up``: every role in one process), the API journals what it
    accepts and an :class:`~cli.runtime.durability.IntakeGuard` checkpoints it and drains on a
    stop signal.
    """
    return _build(settings, tuple(roles), web_port, web_host, journal)[0]


def _build(
    settings: Settings,
    roles: tuple[str, ...],
    web_port: int,
    web_host: str,
    journal: Journal | None,
) -> tuple[StreamContext, IntakeGuard | None]:
    app = create_app(settings, web_port=web_port, app_id=group_id(settings, roles))
    ctx = StreamContext(settings, app, declare_topics(app, settings))
    app.web_server(OpsServer(ctx, web_port, host=web_host))
    guard = None
    for role in roles:
        if role == "api" and journal is not None:
            guard = _guarded_api(ctx, roles, journal)
        else:
            _ROLE_BUILDERS[role](ctx)
    return ctx, guard


def _normalise(ctx: StreamContext) -> None:
    normalise.register(ctx)
    link.register(ctx)


def _notify(ctx: StreamContext) -> None:
    notify.register(ctx)
    cases.register(ctx)  # Salesforce cases for escalations, when settings.cases.enabled


def _api(ctx: StreamContext) -> None:
    ctx.attach(ApiService(ctx.settings, create_api))


def _guarded_api(ctx: StreamContext, roles: tuple[str, ...], journal: Journal) -> IntakeGuard:
    async def journaled_api(settings: Settings) -> web.Application:
        producer = JournalingProducer(await open_producer(settings), journal)
        application = create_api(settings, producer=producer)

        async def stop_producer(_: web.Application) -> None:
            await producer.stop()

        application.on_cleanup.append(stop_producer)
        return application

    api = ApiService(ctx.settings, journaled_api)
    ctx.attach(api)
    groups = up_groups(ctx.settings, group_id(ctx.settings, roles), warehouse.group_of(ctx))

    async def flush() -> None:
        await ctx.app.producer.flush()

    guard = IntakeGuard(journal, Offsets(ctx.settings, groups, flush), stop_api=api.stop)
    ctx.attach(guard)
    return guard


def _shutdown(worker: Any) -> Any:
    def stop(number: signal.Signals) -> None:
        # what the worker's own signal handler does (mode.Worker)
        worker._schedule_shutdown(number)

    return stop


_ROLE_BUILDERS = {
    "normalise": _normalise,
    "timeline": timeline.register,
    "warehouse": warehouse.register,
    "sweeper": sweeper.register,
    "notify": _notify,
    "poll": poll.register,
    "api": _api,
}


def run(
    settings: Settings,
    roles: Iterable[str],
    *,
    web_port: int,
    web_host: str = "127.0.0.1",
    journal: Journal | None = None,
) -> int:
    """Run ``roles`` in this process until interrupted; returns the exit code."""
    roles = parse_roles(roles)
    asyncio.run(ensure_topics(settings))
    use_uvloop()
    ctx, guard = _build(settings, roles, web_port, web_host, journal)
    worker = create_worker(
        ctx.app, loglevel=settings.log_level, logging_config=logging_config(settings.log_level)
    )
    if guard is not None:
        guard.stop_worker = _shutdown(worker)
    log.info("starting roles", extra={"roles": list(roles), "web_port": web_port})
    tune_gc()
    worker.execute_from_commandline()
    return 0
