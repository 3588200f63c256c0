"""notify: outbound messages — plan them as timelines change, send them as they fall due.

Agents in the process's consumer group:

* **timeline topic** — each changed timeline (the newest version per order within a batch) is
  planned (:func:`projections.notify.plan.plan_order` with the order's contacts, preferences,
  ``handled`` entries and the webhook subscriptions) and committed to the ledger
  (:meth:`projections.notify.ledger.Ledger.commit_plan`: new messages queued, repeats ignored);
* **events topic** — the contact fields of ``order.placed`` / ``order.changed`` (e-mail, phone,
  locale, time zone) go to the :class:`~projections.notify.contacts.ContactStore`;
* **exceptions topic** — an exception opened at or above ``notify.alert_min_severity`` plans a
  team-chat alert per target (:func:`projections.notify.alerts.plan_alert`);
* **a timer** every ``notify.interval_s`` — the :class:`~streams.notify.dispatch.Dispatcher`
  sends what is due, the record outbox is published to the notifications topic, and orders
  waiting for their contacts are planned again.

Contacts and timeline travel on different topics, so a timeline can be planned before the
order's contacts are known. When the timeline has a customer e-mail (its hash) but the contact
store has no address yet, the customer part of the plan (the journey and agents' messages) is
held back — *not* marked handled — and the order is planned again ``CONTACT_WAIT_S`` later (at
once when the contacts arrive), for up to ``CONTACT_GIVE_UP_S``; webhooks go out meanwhile.

Transient Redis failures are retried (``streams.context.retrying``), never dropped: every step
is idempotent, so a batch retried after a partial write commits nothing twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
from pydantic import ValidationError

from projections.exception_flow import timeline_from_json
from projections.notify.agent_messages import is_agent_entry
from projections.notify.alerts import plan_alert
from projections.notify.branding import notify_settings_of, sms_from_of, with_brand_zone
from projections.notify.contacts import ContactStore
from projections.notify.ledger import Committed, Ledger, PlanLike, SimplePlan
from projections.notify.model import (
    Contacts,
    MessageState,
    Milestone,
    NotifyChannel,
    Preferences,
    Subscription,
)
from projections.notify.plan import DONE, plan_order
from projections.notify.subscriptions import PreferenceStore, SubscriptionStore
from projections.store import TimelineChange
from projections.timeline_model import Timeline
from streams.agents.sweeper import latest_per_order
from streams.context import TRANSIENT, StreamContext, retrying
from streams.notify.dispatch import Dispatcher, Renderer, Senders, TemplateRenderer
from streams.notify.records import decode_record, encode_record, record_for
from streams.notify.senders import ChatSender, EmailSender, SmsSender, WebhookSender
from streams.updates import decode_changes
from wismo.events import Event, EventKind, OrderChangedEvent, OrderPlacedEvent, parse_event
from wismo.settings import Settings
from wismo.topics import NOTIFICATIONS

NAME = "notify"
log = logging.getLogger(__name__)

#: an order whose contacts are not known yet is planned again this much later
CONTACT_WAIT_S = 5.0
#: … and planned without them after this long (the order.placed event may never come)
CONTACT_GIVE_UP_S = 300.0
#: webhook subscriptions are re-read at most this often
SUBSCRIPTIONS_TTL_S = 3.0

_CUSTOMER = frozenset({NotifyChannel.EMAIL, NotifyChannel.SMS})
_MILESTONES = frozenset(m.value for m in Milestone)
#: cheap test before decoding an event: only these two kinds carry contacts
_CONTACT_KINDS = (b'"order.placed"', b'"order.changed"')


class Timelines(Protocol):
    async def timeline(self, order_id: str) -> bytes | None: ...


def journey_entry(name: str) -> bool:
    """Whether a ``handled`` entry is a customer message's — the journey's or an agent's — not
    an integrator event's."""
    return name == DONE or name.partition(":")[0] in _MILESTONES or is_agent_entry(name)


def without_journey(plan: PlanLike) -> SimplePlan:
    """The plan's webhook and chat part: no customer message, no journey ``handled`` entry."""
    return SimplePlan(
        [m for m in plan.messages if m.channel not in _CUSTOMER],
        [(m, r) for m, r in plan.suppressed if m.channel not in _CUSTOMER],
        {k: v for k, v in plan.handled.items() if not journey_entry(k)},
    )


def contacts_of(event: Event) -> Contacts | None:
    """What an ``order.placed`` / ``order.changed`` says about reaching the customer."""
    if not isinstance(event, OrderPlacedEvent | OrderChangedEvent):
        return None
    p = event.payload
    found = Contacts(
        email=p.customer_email, phone=p.customer_phone, locale=p.locale, time_zone=p.time_zone
    )
    return found if any(vars_of(found)) else None


def vars_of(contacts: Contacts) -> list[str | None]:
    return [contacts.email, contacts.phone, contacts.locale, contacts.time_zone]


@dataclass
class NotifyPlanner:
    """The planning half of the role, on its stores (testable without a broker)."""

    ledger: Ledger
    contacts: ContactStore
    preferences: PreferenceStore
    subscriptions: SubscriptionStore
    timelines: Timelines
    settings: Settings
    contact_wait_s: float = CONTACT_WAIT_S
    contact_give_up_s: float = CONTACT_GIVE_UP_S
    _subs: tuple[float, list[Subscription]] | None = field(default=None, init=False)

    async def active_subscriptions(self, now: datetime) -> list[Subscription]:
        """Every subscription, cached for :data:`SUBSCRIPTIONS_TTL_S`."""
        cached = self._subs
        if cached is not None and time.monotonic() - cached[0] < SUBSCRIPTIONS_TTL_S:
            return cached[1]
        found = await self.subscriptions.all(now=now)
        self._subs = (time.monotonic(), found)
        return found

    async def on_changes(self, changes: Sequence[TimelineChange], now: datetime) -> int:
        """Plan the newest timeline of each order; returns the messages newly queued."""
        queued = 0
        for change in latest_per_order(changes):
            try:
                timeline = timeline_from_json(change.timeline)
            except ValidationError as error:
                log.warning("skipping a timeline that does not decode: %s", error)
                continue
            try:
                committed = await self.plan(timeline, now)
            except TRANSIENT:
                raise  # the store is away: the batch is retried
            except Exception:
                # one order the planner cannot handle must not stop every other order's messages
                log.exception("planning order %s failed; skipped", timeline.order_id)
                continue
            queued += len(committed.messages)
        return queued

    async def plan(self, timeline: Timeline, now: datetime) -> Committed:
        order_id = timeline.order_id
        contacts = with_brand_zone(self.settings, await self.contacts.get(order_id), timeline.brand)
        prefs: Preferences = await self.preferences.get(order_id)
        handled = await self.ledger.handled(order_id)
        subscriptions = await self.active_subscriptions(now)
        notify = notify_settings_of(self.settings, timeline.brand)
        stale = timedelta(seconds=notify.stale_after_s) if notify.stale_after_s else None
        plan: PlanLike = plan_order(
            timeline, contacts, prefs, handled, subscriptions, notify, now, stale_after=stale
        )
        if contacts.email is None and timeline.customer_email_sha256 is not None:
            again = now + timedelta(seconds=self.contact_wait_s)
            first = await self.ledger.defer(order_id, again, now)
            if (now - first).total_seconds() < self.contact_give_up_s:
                plan = without_journey(plan)
            else:
                log.info("planning %s without its contacts (none after %s)", order_id, first)
                await self.ledger.undefer(order_id)
        records = {
            message.message_id: encode_record(
                record_for(message, MessageState.SUPPRESSED, now, reason=reason)
            )
            for message, reason in plan.suppressed
        }
        return await self.ledger.commit_plan(order_id, plan, now, records, version=timeline.version)

    async def on_events(self, events: Sequence[Event], now: datetime) -> int:
        """Record contact fields; an order waiting for them is planned at once."""
        recorded = 0
        for event in events:
            found = contacts_of(event)
            if found is None or event.order_id is None:
                continue
            if await self.contacts.record(event.order_id, found, event.occurred_at):
                recorded += 1
                await self.ledger.expedite(event.order_id, now)
        return recorded

    async def on_exceptions(self, events: Sequence[Event], now: datetime) -> int:
        """Plan team-chat alerts for opened exceptions; returns the alerts newly queued."""
        queued = 0
        for event in events:
            messages = plan_alert(event, self.settings.notify)
            if messages and event.order_id:
                committed = await self.ledger.commit_plan(event.order_id, SimplePlan(messages), now)
                queued += len(committed.messages)
        return queued

    async def replan_pending(self, now: datetime, limit: int = 100) -> int:
        """Plan again the orders that waited for their contacts and are due."""
        orders = await self.ledger.take_pending(now, limit, self.contact_wait_s * 4)
        for order_id in orders:
            document = await self.timelines.timeline(order_id)
            if document is None:
                await self.ledger.undefer(order_id)
                continue
            try:
                timeline = timeline_from_json(document)
            except ValidationError as error:
                log.warning("skipping a timeline that does not decode: %s", error)
                await self.ledger.undefer(order_id)
                continue
            contacts = await self.contacts.get(order_id)
            if contacts.email is not None:
                await self.ledger.undefer(order_id)
            await self.plan(timeline, now)
        return len(orders)


def ledger_for(client: Any, settings: Settings) -> Ledger:
    """The ledger with the keeps the settings call for (:meth:`Ledger.from_settings`)."""
    return Ledger.from_settings(client, settings)


def decode_events(values: Sequence[bytes], wanted: Callable[[bytes], bool]) -> list[Event]:
    events = []
    for value in values:
        if not wanted(value):
            continue
        try:
            events.append(parse_event(value))
        except ValidationError as error:
            log.warning("skipping an event that does not decode: %s", error)
    return events


def _has_contacts(value: bytes) -> bool:
    return any(kind in value for kind in _CONTACT_KINDS)


def _is_opened(value: bytes) -> bool:
    return EventKind.EXCEPTION_OPENED.value.encode() in value


@dataclass
class _Role:
    """The role's stores, opened once in the worker's loop."""

    planner: NotifyPlanner
    dispatcher: Dispatcher
    session: aiohttp.ClientSession


def register(ctx: StreamContext, renderer: Renderer | None = None) -> None:
    settings = ctx.settings
    metrics = ctx.metrics
    built: list[_Role] = []
    lock = asyncio.Lock()

    async def role() -> _Role:
        async with lock:
            if not built:
                client = await ctx.redis()
                prefix = settings.redis.key_prefix
                ledger = ledger_for(client, settings)
                subscriptions = SubscriptionStore(client, prefix)
                planner = NotifyPlanner(
                    ledger,
                    ContactStore(client, prefix, retention_s=settings.retention.redis_s),
                    PreferenceStore(client, prefix),
                    subscriptions,
                    await ctx.timeline_store(),
                    settings,
                )
                session = aiohttp.ClientSession()
                senders = build_senders(settings, session)
                dispatcher = Dispatcher(
                    ledger,
                    settings.notify,
                    senders,
                    subscriptions,
                    renderer or TemplateRenderer(settings.notify, settings),
                )
                built.append(_Role(planner, dispatcher, session))
            return built[0]

    async def timeline_agent(stream: Any) -> AsyncIterator[None]:
        planner = (await role()).planner
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            changes = decode_changes(item.message.value for item in batch)
            if changes:
                metrics.events_in.labels(NAME, "timeline").inc(len(changes))
                plan = functools.partial(planner.on_changes, changes, datetime.now(UTC))
                await retrying(plan, metrics, "redis")
            yield None

    async def events_agent(stream: Any) -> AsyncIterator[None]:
        planner = (await role()).planner
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            values = [item.message.value or b"" for item in batch]
            events = decode_events(values, _has_contacts)
            if events:
                metrics.events_in.labels(NAME, "contacts").inc(len(events))
                record = functools.partial(planner.on_events, events, datetime.now(UTC))
                await retrying(record, metrics, "redis")
            yield None

    async def exceptions_agent(stream: Any) -> AsyncIterator[None]:
        planner = (await role()).planner
        batches = stream.take_events(
            settings.kafka.batch_size, within=settings.kafka.batch_timeout_s
        )
        async for batch in batches:
            values = [item.message.value or b"" for item in batch]
            events = decode_events(values, _is_opened)
            if events:
                metrics.events_in.labels(NAME, "exception").inc(len(events))
                alert = functools.partial(planner.on_exceptions, events, datetime.now(UTC))
                await retrying(alert, metrics, "redis")
            yield None

    async def publish(records: Sequence[bytes]) -> None:
        deliveries: list[Awaitable[Any]] = []
        for value in records:
            try:
                order_id = decode_record(value).order_id
            except ValueError as error:
                log.warning("dropping an outcome record that does not decode: %s", error)
                continue
            deliveries.append(await ctx.send(NAME, NOTIFICATIONS, order_id, value))
        await asyncio.gather(*deliveries)

    async def tick(*_: Any) -> None:
        current = await role()
        try:
            await current.planner.replan_pending(datetime.now(UTC))
            report = await current.dispatcher.drain(budget_s=1.0)
            while await current.dispatcher.publish_records(publish):
                pass
        except TRANSIENT as error:
            # leases run out and the messages come back: the next tick retries
            metrics.retries.labels("redis").inc()
            log.warning("notify round failed, retrying next tick: %s", error)
            return
        except Exception:
            # a bug must not stop the timer (and the worker with it): the next tick tries again
            log.exception("notify round failed")
            return
        if report.taken:
            log.debug("dispatched %d messages: %s", report.taken, dict(report.outcomes))

    prefix = settings.kafka.topic_prefix
    ctx.app.agent(ctx.topics.timeline, name=f"{prefix}.{NAME}.timeline")(timeline_agent)
    ctx.app.agent(ctx.topics.events, name=f"{prefix}.{NAME}.contacts")(events_agent)
    ctx.app.agent(ctx.topics.exceptions, name=f"{prefix}.{NAME}.alerts")(exceptions_agent)
    ctx.app.timer(settings.notify.interval_s, name=f"{prefix}.{NAME}.tick")(tick)

    async def close(*_: Any, **__: Any) -> None:
        for current in built:
            # sends in flight finish before their connections close: cut off, they would count
            # against their endpoints and be retried, perhaps repeated, by another worker
            await current.dispatcher.stop()
            senders = current.dispatcher.senders
            for sender in (senders.email, senders.chat):
                closing = getattr(sender, "close", None)
                if closing is not None:
                    await closing()
            await current.session.close()

    ctx.app.on_before_shutdown.connect(close)


def build_senders(settings: Settings, session: aiohttp.ClientSession) -> Senders:
    """The channels ``settings.notify`` configures (webhooks always)."""
    notify = settings.notify
    return Senders(
        email=EmailSender(notify) if notify.smtp_host else None,
        sms=SmsSender(notify, session, lambda m: sms_from_of(settings, m.payload.get("brand")))
        if notify.sms_url
        else None,
        webhook=WebhookSender(notify, session),
        chat=ChatSender(notify) if notify.alert_urls else None,
    )
