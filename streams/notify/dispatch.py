"""The dispatcher: takes due messages from the ledger and sends them, once.

One round (:meth:`Dispatcher.dispatch`): take up to ``notify.batch`` due messages under a lease
(another dispatcher does not see them until the lease runs out), group them into *lanes* and
run the lanes concurrently — a slow endpoint holds only its own lanes. A lane is one webhook
subscription and one order (its messages go in version order, see below), or a single e-mail,
SMS or chat message. Each message:

1. a message already final (``sent``, ``failed``, ``suppressed``) is skipped: a lease came back
   after its outcome was written;
2. a journey message overtaken by a milestone handled since it was planned (it waited behind
   quiet hours) is ``suppressed`` with reason ``overtaken``;
3. a webhook for a deleted or disabled subscription ``failed``; a paused one waits (rescheduled,
   no attempt counted);
4. rendered (a message that cannot be rendered ``failed``, ``render: …``);
5. under the endpoint's concurrency limit (``subscription.max_concurrency`` or
   ``notify.endpoint_concurrency``): the endpoint's circuit breaker (one per subscription, SMTP,
   SMS, chat target; per process) open → rescheduled after the cool-down, no attempt counted;
   else ``mark_sending`` — only under the lease it was taken with, which it renews — then the
   send;
6. ``sent``; or a permanent failure (a 4xx other than 408/429, an SMTP 5xx) ``failed``; or a
   retry after :func:`~projections.notify.retry.retry_delay` (never earlier than the endpoint's
   ``Retry-After``), until ``notify.retry_horizon_s`` after the first attempt (``failed``,
   ``retry horizon``). A webhook subscription that has failed throughout
   ``notify.disable_after_s`` is disabled with the reason, and its messages fail with
   ``endpoint disabled``. Every webhook attempt goes to the subscription's delivery log.

**Order within a lane.** When a webhook message waits (a retry), the lane's later messages are
rescheduled just behind it and the lane is *held* by it (``P:{notify}:hold``): until it is sent
or failed, a later message of the same subscription and order waits behind it. A receiver thus
gets an order's events in order; the payload's ``order_version`` lets it drop stale ones anyway.

**Exactly once.** A message found in state ``sending`` was taken by a dispatcher that died
mid-send (``kill -9``, a lost node): whether the far side got it is unknown, so it is sent again
with the *same* message id — the ``webhook-id`` (Standard Webhooks receivers deduplicate on
it), the e-mail's ``Message-ID``, the SMS provider's idempotency token. See
docs/guarantees.md, "Notifications: exactly once".

**Stopping.** :meth:`Dispatcher.stop` (the role calls it when its worker shuts down, before the
senders' connections close) starts no more sends: a message of the round under way that has not
started goes back to the ledger due at once, and the sends in flight finish and have their
outcomes written. Only a worker that dies leaves a message ``sending``; one that stops cuts no
send off — which would be counted against the endpoint (its breaker, its delivery log) and
retried, perhaps repeated, by another worker.

Outcome records are written by the ledger in the same step as the final state (its record
outbox); :meth:`Dispatcher.publish_records` moves them to the notifications topic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from projections.notify.alerts import render_alert
from projections.notify.branding import voice
from projections.notify.integrator import webhook_body
from projections.notify.ledger import Entry, Ledger
from projections.notify.model import (
    Message,
    MessageState,
    Milestone,
    NotifyChannel,
    Subscription,
)
from projections.notify.plan import OVERTAKEN, overtaken
from projections.notify.render import render_email, render_sms
from projections.notify.retry import Breaker, retry_delay, should_give_up
from projections.notify.unsubscribe import links_for, list_unsubscribe_headers
from streams.context import TRANSIENT
from streams.notify.records import encode_record, record_for
from streams.notify.senders import Rendered, SendResult
from wismo.settings import NotifySettings, Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Publish = Callable[[Sequence[bytes]], Awaitable[None]]

#: kinds the ``overtaken`` rule can apply to (others skip reading the order's handled map)
_JOURNEY = frozenset(m.value for m in Milestone)
#: channels whose endpoint is a provider relaying to many recipients
_PROVIDERS = frozenset({NotifyChannel.EMAIL, NotifyChannel.SMS})
ENDPOINT_DISABLED = "endpoint disabled"
RETRY_HORIZON = "retry horizon"
SUBSCRIPTION_GONE = "subscription deleted"


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    WAITING = "waiting"  # rescheduled: a retry, breaker open, paused, behind its lane's head
    SKIPPED = "skipped"  # already final, or another dispatcher holds it now


# what the dispatcher needs of its collaborators ---------------------------------------------


class EmailChannel(Protocol):
    async def send(
        self, message: Message, rendered: Rendered, headers: Mapping[str, str]
    ) -> SendResult: ...


class SmsChannel(Protocol):
    async def send(self, message: Message, body: str) -> SendResult: ...


class WebhookChannel(Protocol):
    async def send(
        self, message: Message, subscription: Subscription, body: bytes
    ) -> SendResult: ...


class ChatChannel(Protocol):
    async def send(self, message: Message, rendered: Rendered) -> SendResult: ...


class Subscriptions(Protocol):
    async def get(self, sub_id: str, *, now: datetime | None = None) -> Subscription | None: ...

    async def disable(self, sub_id: str, reason: str, *, at: datetime) -> Subscription | None: ...

    async def record_attempt(self, sub_id: str, entry: Mapping[str, Any]) -> None: ...


class Renderer(Protocol):
    """Turns a message into what its channel sends (:class:`TemplateRenderer` by default)."""

    def email(self, message: Message) -> tuple[Rendered, Mapping[str, str]]: ...

    def sms(self, message: Message) -> str: ...

    def webhook(self, message: Message) -> bytes: ...

    def alert(self, message: Message) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class Text:
    """A rendered chat alert (or any plain message)."""

    subject: str
    text: str
    html: str = ""


class TemplateRenderer:
    """The packaged templates (overridable from the brand's and ``notify.templates_dir``) in
    the message's language, the status and one-click unsubscribe links, the webhook body and
    the chat alert text. ``app``: the whole configuration (brands, languages); without it, a
    default one around ``settings``."""

    def __init__(self, settings: NotifySettings, app: Settings | None = None) -> None:
        self.settings = settings
        self.app = app if app is not None else Settings(notify=settings)

    def email(self, message: Message) -> tuple[Rendered, Mapping[str, str]]:
        """The e-mail and its headers: RFC 8058 unsubscribe, ``Content-Language`` and the
        brand's ``From`` (the sender uses it for the envelope too)."""
        speaking = voice(self.app, message.payload)
        links = links_for(message, self.settings)
        rendered = render_email(
            message,
            sender=speaking.sender,
            links=links,
            templates_dir=speaking.templates,
            lang=speaking.lang,
            look=speaking.look,
        )
        headers = list_unsubscribe_headers(links.unsubscribe_url)
        return rendered, headers | {"From": speaking.sender, "Content-Language": speaking.lang}

    def sms(self, message: Message) -> str:
        speaking = voice(self.app, message.payload)
        links = links_for(message, self.settings)
        return render_sms(
            message,
            links=links,
            templates_dir=speaking.templates,
            lang=speaking.lang,
            look=speaking.look,
        )

    def webhook(self, message: Message) -> bytes:
        return webhook_body(message)

    def alert(self, message: Message) -> Rendered:
        title, body = render_alert(message)
        return Text(title, body)


@dataclass
class Senders:
    """The configured channels; ``None``: the channel is not configured (its messages are
    suppressed with a reason saying so)."""

    email: EmailChannel | None = None
    sms: SmsChannel | None = None
    webhook: WebhookChannel | None = None
    chat: ChatChannel | None = None


@dataclass
class Report:
    taken: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=lambda: defaultdict(int))


class Dispatcher:
    """Sends due messages from ``ledger`` through ``senders``."""

    def __init__(
        self,
        ledger: Ledger,
        settings: NotifySettings,
        senders: Senders,
        subscriptions: Subscriptions,
        renderer: Renderer,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.senders = senders
        self.subscriptions = subscriptions
        self.renderer = renderer
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.random = rng or random.Random()
        self._breakers: dict[str, Breaker] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._round_subscriptions: dict[str, asyncio.Future[Subscription | None]] = {}
        self._holds: dict[str, str] = {}  # lane -> its head, as the round began
        self._failing: set[str] = set()  # subscriptions failing as the round began
        self._stopping = False
        self._rounds = 0  # rounds under way
        self._idle = asyncio.Event()  # set while no round is under way
        self._idle.set()

    # rounds -----------------------------------------------------------------------------------

    async def dispatch(self, now: datetime | None = None) -> Report:
        """One round: take the due messages and settle each (sent, failed, suppressed, or
        rescheduled). Once :meth:`stop` was called, takes nothing."""
        if self._stopping:
            return Report()
        self._rounds += 1
        self._idle.clear()
        try:
            return await self._round(now or self.clock())
        finally:
            self._rounds -= 1
            if not self._rounds:
                self._idle.set()

    async def stop(self, timeout_s: float | None = None) -> bool:
        """Send nothing more, and wait for the round under way: its messages not started yet go
        back to the ledger, due at once (another dispatcher takes them), and the sends in flight
        finish and have their outcomes written. Call it before closing the senders. Returns
        whether the round ended within ``timeout_s`` (default: twice ``request_timeout_s``);
        if not, what is still in flight is left ``sending``, as by a worker that died."""
        self._stopping = True
        wait = 2 * self.settings.request_timeout_s if timeout_s is None else timeout_s
        try:
            await asyncio.wait_for(self._idle.wait(), wait)
        except TimeoutError:
            log.warning("stopping with sends still in flight after %.1f s", wait)
            return False
        return True

    async def _round(self, now: datetime) -> Report:
        limits = self.settings
        entries = await self.ledger.take(now, limits.batch, limits.lease_s)
        self._round_subscriptions = {}
        if any(entry.message.channel is NotifyChannel.WEBHOOK for entry in entries):
            self._holds, self._failing = await self.ledger.endpoints()
        report = Report(taken=len(entries))
        lanes: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            lanes[_lane(entry)].append(entry)
        settled = await asyncio.gather(
            *(self._lane(name, lane) for name, lane in lanes.items()), return_exceptions=True
        )
        failure: BaseException | None = None
        for outcomes in settled:
            if isinstance(outcomes, BaseException):
                # one lane's trouble is not the others': its messages come back with the lease
                if not isinstance(outcomes, Exception):
                    raise outcomes
                log.error("a dispatch lane failed: %r", outcomes, exc_info=outcomes)
                failure = failure or outcomes
                continue
            for outcome in outcomes:
                report.outcomes[outcome] += 1
        if isinstance(failure, TRANSIENT):
            raise failure  # the store is away: the caller backs off
        return report

    async def drain(self, budget_s: float = 1.0) -> Report:
        """Rounds while full batches come back, for at most about ``budget_s``."""
        total = Report()
        ends = time.monotonic() + budget_s
        while True:
            report = await self.dispatch()
            total.taken += report.taken
            for outcome, count in report.outcomes.items():
                total.outcomes[outcome] += count
            if report.taken < self.settings.batch or time.monotonic() >= ends:
                return total

    async def publish_records(self, publish: Publish, limit: int = 500) -> int:
        """Move outcome records from the ledger's outbox to ``publish`` (the notifications
        topic); a record is removed only once ``publish`` returned."""
        records = await self.ledger.take_records(self.clock(), limit, self.settings.lease_s)
        if records:
            await publish(records)
            await self.ledger.records_done(records)
        return len(records)

    # lanes ------------------------------------------------------------------------------------

    async def _lane(self, name: str, entries: list[Entry]) -> list[Outcome]:
        entries.sort(key=_lane_order)
        if entries[0].message.channel is not NotifyChannel.WEBHOOK:
            return [await self._settle(entry) for entry in entries]
        holder = self._holds.get(name)
        if holder is not None and holder not in {entry.message_id for entry in entries}:
            head = await self.ledger.get(holder)
            if head is not None and not head.final:  # an earlier message still waits
                return await self._behind(entries, head.due or self.clock())
            await self.ledger.release(name, holder)
            holder = None
        outcomes: list[Outcome] = []
        for index, entry in enumerate(entries):
            outcome = await self._settle(entry)
            outcomes.append(outcome)
            if outcome is Outcome.WAITING:
                if holder != entry.message_id:
                    await self.ledger.hold(name, entry.message_id)
                after = await self.ledger.get(entry.message_id)
                head_due = after.due if after is not None and after.due else self.clock()
                outcomes += await self._behind(entries[index + 1 :], head_due)
                return outcomes
            if holder == entry.message_id and outcome is not Outcome.SKIPPED:
                await self.ledger.release(name, entry.message_id)
                holder = None
        return outcomes

    async def _behind(self, entries: Sequence[Entry], head_due: datetime) -> list[Outcome]:
        now = self.clock()
        start = max(head_due, now)
        for offset, entry in enumerate(entries, start=1):
            await self.ledger.reschedule(
                entry.message_id, start + timedelta(milliseconds=offset), now
            )
        return [Outcome.WAITING] * len(entries)

    # one message ------------------------------------------------------------------------------

    async def _settle(self, entry: Entry) -> Outcome:
        message = entry.message
        now = self.clock()
        if entry.final:
            return Outcome.SKIPPED
        if entry.state is MessageState.SENDING:
            log.info(
                "re-sending %s (its dispatcher stopped mid-send) under the same id",
                entry.message_id,
            )
        if (
            not entry.manual
            and message.kind in _JOURNEY
            and overtaken(message, await self.ledger.handled(message.order_id), now=now)
        ):
            return await self._suppress(entry, OVERTAKEN, now)
        subscription = None
        if message.channel is NotifyChannel.WEBHOOK:
            subscription = await self._subscription(message.recipient, now)
            if subscription is None:
                return await self._fail(entry, SUBSCRIPTION_GONE, now)
            if subscription.disabled_reason or subscription.disabled_at:
                return await self._fail(entry, ENDPOINT_DISABLED, now)
            if subscription.paused:
                return await self._wait(entry, now + self._cooldown, now)
        if not self._configured(message.channel):
            return await self._suppress(
                entry, f"no {message.channel.value} channel configured", now
            )
        try:
            send = self._prepared(message, subscription)
        except Exception as error:  # a template or payload this message cannot render
            log.warning("cannot render %s: %s", entry.message_id, error)
            return await self._fail(entry, f"render: {type(error).__name__}: {error}", now)
        endpoint = _endpoint(message)
        breaker = self._breaker(endpoint)
        attempt = entry.attempts + 1
        async with self._limit(endpoint, subscription):
            # asked once a slot is free, so sends queued behind failing ones do not go out
            started = self.clock()
            if self._stopping:  # stopped while it waited for a slot: another dispatcher sends it
                await self.ledger.reschedule(entry.message_id, started, started, lease=entry.lease)
                return Outcome.SKIPPED
            if not breaker.allow(started):
                return await self._wait(entry, started + self._cooldown, started)
            held = await self.ledger.mark_sending(
                entry.message_id,
                attempt,
                started,
                lease=entry.lease,
                lease_s=self.settings.lease_s,
            )
            if not held:  # final meanwhile, or another dispatcher took it after our lease
                breaker.probing = False
                return Outcome.SKIPPED
            try:
                result = await send()
            except Exception as error:  # senders report failures; this is a bug or a surprise
                log.exception("sending %s raised", entry.message_id)
                result = SendResult(False, None, False, None, f"{type(error).__name__}", 0.0)
        at = self.clock()
        # a provider refusing one address or number is working: only webhooks' refusals (a
        # wrong URL, a broken endpoint) count against their endpoint
        healthy = result.ok or (result.permanent and message.channel in _PROVIDERS)
        breaker.record(healthy, at)
        if subscription is not None:
            await self._log_attempt(subscription, entry, attempt, result, at)
        return await self._after(entry, attempt, result, subscription, at)

    async def _after(
        self,
        entry: Entry,
        attempt: int,
        result: SendResult,
        subscription: Subscription | None,
        at: datetime,
    ) -> Outcome:
        message = entry.message
        if result.ok:
            record = record_for(
                message,
                MessageState.SENT,
                at,
                attempts=attempt,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
            )
            await self.ledger.mark_sent(
                entry.message_id,
                at,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                provider_id=result.provider_id,
                record=encode_record(record),
            )
            if subscription is not None and subscription.id in self._failing:
                self._failing.discard(subscription.id)
                await self.ledger.succeeded(subscription.id)
            return Outcome.SENT
        error = result.error or "failed"
        if subscription is not None:
            gap = self.settings.retry_cap_s * 2 + self.settings.breaker_cooldown_s
            since = await self.ledger.failing_since(subscription.id, at, gap_s=gap)
            self._failing.add(subscription.id)
            failing_s = (at - since).total_seconds()
            if failing_s >= self.settings.disable_after_s:
                reason = f"failing since {since.isoformat()} ({failing_s:.0f} s); last: {error}"
                disabled = await self.subscriptions.disable(subscription.id, reason[:500], at=at)
                done: asyncio.Future[Subscription | None] = asyncio.Future()
                done.set_result(disabled)
                self._round_subscriptions[subscription.id] = done
                await self.ledger.succeeded(subscription.id)  # a re-enabled endpoint starts afresh
                log.warning("disabled webhook subscription %s: %s", subscription.id, reason)
                return await self._fail(
                    entry, ENDPOINT_DISABLED, at, attempts=attempt, result=result
                )
        if result.permanent:
            return await self._fail(entry, error, at, attempts=attempt, result=result)
        if should_give_up(entry.first_try or at, at, self.settings.retry_horizon_s):
            reason = f"{RETRY_HORIZON}; last: {error}"
            return await self._fail(entry, reason, at, attempts=attempt, result=result)
        limits = self.settings
        delay = retry_delay(attempt, limits.retry_base_s, limits.retry_cap_s, self.random)
        if result.retry_after_s is not None:
            delay = max(delay, min(result.retry_after_s, limits.retry_horizon_s))
        due = at + timedelta(seconds=delay)
        await self.ledger.mark_retry(
            entry.message_id, due, error, at, status_code=result.status_code
        )
        return Outcome.WAITING

    # outcomes ---------------------------------------------------------------------------------

    async def _suppress(self, entry: Entry, reason: str, at: datetime) -> Outcome:
        record = record_for(
            entry.message, MessageState.SUPPRESSED, at, attempts=entry.attempts, reason=reason
        )
        done = await self.ledger.mark_suppressed(
            entry.message_id, reason, at, record=encode_record(record)
        )
        return Outcome.SUPPRESSED if done else Outcome.SKIPPED

    async def _fail(
        self,
        entry: Entry,
        reason: str,
        at: datetime,
        *,
        attempts: int | None = None,
        result: SendResult | None = None,
    ) -> Outcome:
        status = result.status_code if result is not None else None
        record = record_for(
            entry.message,
            MessageState.FAILED,
            at,
            attempts=entry.attempts if attempts is None else attempts,
            reason=reason,
            status_code=status,
            latency_ms=result.latency_ms if result is not None else None,
        )
        done = await self.ledger.mark_failed(
            entry.message_id, reason, at, status_code=status, record=encode_record(record)
        )
        return Outcome.FAILED if done else Outcome.SKIPPED

    async def _wait(self, entry: Entry, due: datetime, at: datetime) -> Outcome:
        done = await self.ledger.reschedule(entry.message_id, due, at)
        return Outcome.WAITING if done else Outcome.SKIPPED

    async def _log_attempt(
        self,
        subscription: Subscription,
        entry: Entry,
        attempt: int,
        result: SendResult,
        at: datetime,
    ) -> None:
        await self.subscriptions.record_attempt(
            subscription.id,
            {
                "message_id": entry.message_id,
                "type": entry.message.kind,
                "attempt": attempt,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error": result.error,
                "at": at.isoformat(),
            },
        )

    async def _subscription(self, sub_id: str, now: datetime) -> Subscription | None:
        """The subscription, read once per round (its lanes run concurrently)."""
        found = self._round_subscriptions.get(sub_id)
        if found is None:
            found = asyncio.ensure_future(self.subscriptions.get(sub_id, now=now))
            self._round_subscriptions[sub_id] = found
        return await asyncio.shield(found)

    # channels, endpoints ----------------------------------------------------------------------

    def _configured(self, channel: NotifyChannel) -> bool:
        senders = self.senders
        return {
            NotifyChannel.EMAIL: senders.email,
            NotifyChannel.SMS: senders.sms,
            NotifyChannel.WEBHOOK: senders.webhook,
            NotifyChannel.CHAT: senders.chat,
        }[channel] is not None

    def _prepared(
        self, message: Message, subscription: Subscription | None
    ) -> Callable[[], Awaitable[SendResult]]:
        """Render now (a rendering error is the message's, not the endpoint's), send later."""
        senders, renderer = self.senders, self.renderer
        channel = message.channel
        if channel is NotifyChannel.EMAIL and senders.email is not None:
            rendered, headers = renderer.email(message)
            email = senders.email
            return lambda: email.send(message, rendered, headers)
        if channel is NotifyChannel.SMS and senders.sms is not None:
            text = renderer.sms(message)
            sms = senders.sms
            return lambda: sms.send(message, text)
        if channel is NotifyChannel.WEBHOOK and senders.webhook is not None:
            assert subscription is not None
            body = renderer.webhook(message)
            webhook = senders.webhook
            return lambda: webhook.send(message, subscription, body)
        if channel is NotifyChannel.CHAT and senders.chat is not None:
            alert = renderer.alert(message)
            chat = senders.chat
            return lambda: chat.send(message, alert)
        raise ValueError(f"no sender for {channel}")

    @property
    def _cooldown(self) -> timedelta:
        return timedelta(seconds=self.settings.breaker_cooldown_s)

    def _breaker(self, endpoint: str) -> Breaker:
        breaker = self._breakers.get(endpoint)
        if breaker is None:
            breaker = Breaker(self.settings.breaker_failures, self.settings.breaker_cooldown_s)
            self._breakers[endpoint] = breaker
        return breaker

    def _limit(self, endpoint: str, subscription: Subscription | None) -> asyncio.Semaphore:
        limit = self._limits.get(endpoint)
        if limit is None:
            wanted = subscription.max_concurrency if subscription is not None else None
            size = wanted or self.settings.endpoint_concurrency
            if endpoint == NotifyChannel.EMAIL.value:
                # no more in flight than pooled connections: an attempt must not wait for one
                # after it started (its lease runs meanwhile)
                size = min(size, self.settings.smtp_connections)
            limit = asyncio.Semaphore(size)
            self._limits[endpoint] = limit
        return limit


def _endpoint(message: Message) -> str:
    """Who receives the send: one subscription, the SMTP relay, the SMS provider, one chat
    target. Breakers and concurrency limits are per endpoint."""
    channel: NotifyChannel = message.channel
    if channel in (NotifyChannel.WEBHOOK, NotifyChannel.CHAT):
        return f"{channel.value}:{message.recipient}"
    return channel.value


def _lane(entry: Entry) -> str:
    message = entry.message
    if message.channel is NotifyChannel.WEBHOOK:
        return f"{message.recipient}|{message.order_id}"
    return entry.message_id


def _lane_order(entry: Entry) -> tuple[Any, ...]:
    message = entry.message
    return (
        message.version,
        entry.planned_at or message.due_at,
        message.triggered_at,
        entry.message_id,
    )
