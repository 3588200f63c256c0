"""poll: re-check carriers for live parcels (docs/integrations.md, "Polling").

Two loops, like the sweeper:

* **timeline path** — an agent on the timeline topic (the role's own consumer group): each
  changed timeline is planned (:func:`projections.poll.plan.plan_timeline`) — parcels of polled
  carriers are scheduled by their cadence, final or too old ones forgotten, parcels of other
  carriers registered with the aggregator once;
* **clock path** — a timer, every ``settings.poll.interval_s``: the poller takes the due parcels
  and publishes what changed on the raw topic (:mod:`streams.poll.poller`).

The HTTP session is opened on first use inside the worker's loop and closed with the app.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from mode import Service
from pydantic import ValidationError

from projections.exception_flow import timeline_from_json
from projections.poll.bucket import PollBucket
from projections.poll.index import PollIndex
from projections.poll.plan import PollPlan, plan_timeline, source_of_carrier
from projections.poll.registrations import RegistrationMarks
from projections.store import TimelineChange
from streams.agents.sweeper import latest_per_order
from streams.context import TRANSIENT, StreamContext, retrying
from streams.poll.apis import tracker_registration, tracking_apis
from streams.poll.poller import Poller
from streams.poll.registration import TrackerRegistrar
from streams.updates import decode_changes
from wismo.settings import Settings
from wismo.topics import RAW, KafkaHeaders

NAME = "poll"
#: a registration marker outlives any parcel's polling age
REGISTERED_TTL_S = 90 * 86400
log = logging.getLogger(__name__)


@dataclass
class PollRole:
    """What the two loops share, built once per process."""

    session: aiohttp.ClientSession
    index: PollIndex
    poller: Poller
    registrar: TrackerRegistrar | None

    async def carry_out(self, plan: PollPlan) -> None:
        for parcel, at in plan.schedule:
            await self.index.schedule(parcel, at, keep_cadence=True)
        for number in plan.forget:
            await self.index.forget(number)
        if self.registrar is not None:
            for registration in plan.register:
                await self.registrar.register(registration)


class SessionCloser(Service):
    """Closes the role's HTTP session when the app stops."""

    def __init__(self, built: list[PollRole], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built = built

    async def on_stop(self) -> None:
        for role in self.built:
            await role.session.close()


def register(ctx: StreamContext) -> None:
    settings = ctx.settings
    metrics = ctx.metrics
    built: list[PollRole] = []
    lock = asyncio.Lock()

    async def publish(key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        await (await ctx.send(NAME, RAW, key, value, headers))

    async def role() -> PollRole:
        async with lock:
            if not built:
                built.append(await _build(ctx, publish))
            return built[0]

    async def poll_agent(stream: Any) -> AsyncIterator[None]:
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            changes = decode_changes(item.message.value for item in batch)
            if changes:
                metrics.events_in.labels(NAME, "timeline").inc(len(changes))
                polling = await role()
                plan = _plan(latest_per_order(changes), settings, polling)
                await retrying(functools.partial(polling.carry_out, plan), metrics, "redis")
            yield None

    async def poll_tick(*_: Any) -> None:
        try:
            report = await (await role()).poller.poll_due(datetime.now(UTC))
        except TRANSIENT as error:
            # leases run out and the parcels come back: the next tick retries
            metrics.retries.labels("redis").inc()
            log.warning("poll round failed, retrying next tick: %s", error)
            return
        if report.outcomes:
            log.info("polled parcels: %s", report.outcomes)

    prefix = settings.kafka.topic_prefix
    ctx.app.agent(ctx.topics.timeline, name=f"{prefix}.{NAME}")(poll_agent)
    ctx.app.timer(settings.poll.interval_s, name=f"{prefix}.{NAME}.tick")(poll_tick)
    ctx.attach(SessionCloser(built))


async def _build(ctx: StreamContext, publish: Any) -> PollRole:
    settings = ctx.settings
    poll, redis = settings.poll, settings.redis
    client = await ctx.redis()
    url = redis.url or "redis"
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=poll.request_timeout_s))
    index = PollIndex(client, redis.key_prefix, url=url)
    bucket = PollBucket(client, redis.key_prefix, poll.carriers, url=url)
    marks = RegistrationMarks(client, redis.key_prefix, REGISTERED_TTL_S, url=url)
    apis = tracking_apis(session, poll.carriers, marks.tracker_id)
    poller = Poller(index, bucket, apis, poll, publish)
    register = tracker_registration(session, poll.register_with, poll.carriers, source_of_carrier)
    registrar = None if register is None else TrackerRegistrar(marks, register)
    return PollRole(session, index, poller, registrar)


def _plan(changes: list[TimelineChange], settings: Settings, role: PollRole) -> PollPlan:
    """One plan for a batch of changed timelines."""
    polled = set(role.poller.apis)
    register = settings.poll.register_with if role.registrar is not None else None
    now = datetime.now(UTC)
    plan = PollPlan()
    if not polled and register is None:  # nothing configured: not worth decoding timelines
        return plan
    for change in changes:
        try:
            timeline = timeline_from_json(change.timeline)
        except ValidationError as error:
            log.warning("skipping a timeline that does not decode: %s", error)
            continue
        one = plan_timeline(timeline, polled, register, now, settings.poll)
        plan.schedule += one.schedule
        plan.forget += one.forget
        plan.register += one.register
    return plan
