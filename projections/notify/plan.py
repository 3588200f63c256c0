"""What to send about an order, to whom and when: the planner the ``notify`` role runs on every
changed timeline.

:func:`plan_order` reads the journey (:mod:`~projections.notify.milestones`) and the integrator
events (:mod:`~projections.notify.integrator`) of a timeline and returns a :class:`Plan`: the
messages to queue, the ones suppressed on purpose (with the reason), and the entries to write
into the order's state map (``handled``). Rules:

* **first message per milestone**: a milestone whose key is in ``handled`` is never planned
  again, whatever the timeline says later;
* **never behind the journey**: a milestone overtaken by a later one on the same parcel (or by
  the whole order arriving) is marked handled and suppressed (``overtaken``) — no "out for
  delivery" once "delivered" is known. ``arriving_soon`` counts as reached only from its due
  time: until then it is a reminder waiting in the queue, not news;
* **recipients**: the order's e-mail address and phone number unless the customer opted out
  (``email_by_default``, ``sms_by_default``), or when they opted in, plus every address or
  number that subscribed on the status page; an opted-out recipient gets a suppressed record
  (``opted_out``); with nobody to tell the milestone is still marked handled;
* **quiet hours** in the recipient's zone (the order's, else ``default_time_zone``): the message
  is due at their end; ``arriving_soon`` is due at its own time, never before.

Messages agents sent the customer from the console (:mod:`~projections.notify.agent_messages`)
go to the same recipients, once per (message, channel, recipient): e-mail at once, SMS after quiet
hours, never stale nor overtaken.

A customer's report at or above ``alert_min_severity`` becomes a team-chat alert per target
(:func:`~projections.notify.alerts.report_alerts`): reports open their exception in the fold,
never on the exceptions topic the other alerts come from.

Webhook messages are one per (integrator event, matching subscription) and are due at once.

:func:`overtaken` is the same rule at send time: a message queued behind quiet hours is dropped
when a later milestone of its parcel has been handled since.

State entries of journey milestones are compact: ``<rank>[@<due, base-36 epoch minutes>]
[:<shipment id>]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.notify.agent_messages import (
    AGENT_TEMPLATES,
    UNKNOWN_TEMPLATE,
    agent_message,
    handled_key,
    pending,
)
from projections.notify.alerts import report_alerts
from projections.notify.integrator import IntegratorEvent, carriers_of, integrator_events
from projections.notify.milestones import RANK, Fact, fact_key, journey, order_complete
from projections.notify.model import (
    Contacts,
    Message,
    Milestone,
    NotifyChannel,
    Preferences,
    Subscription,
)
from projections.notify.quiet_hours import deliver_at
from projections.timeline_model import Timeline
from wismo.settings import NotifySettings

OVERTAKEN = "overtaken"
OPTED_OUT = "opted_out"
STALE = "stale"
#: state-map key written once every parcel of the order arrived
DONE = "done"
_ALL_DELIVERED = fact_key(Milestone.ALL_DELIVERED)
_JOURNEY = frozenset(m.value for m, rank in RANK.items() if rank > 0)
_CUSTOMER_CHANNELS = frozenset({NotifyChannel.EMAIL, NotifyChannel.SMS})

Recipient = tuple[NotifyChannel, str]


@dataclass
class Plan:
    messages: list[Message] = field(default_factory=list)
    suppressed: list[tuple[Message, str]] = field(default_factory=list)
    handled: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reached:
    """A journey milestone as the state map remembers it."""

    rank: int
    shipment_id: str | None
    due: datetime | None = None

    def counts_at(self, now: datetime) -> bool:
        return self.due is None or self.due <= now


# the state map's journey entries ---------------------------------------------------------------


def _minutes36(at: datetime) -> str:
    number, digits = int(at.timestamp() // 60), ""
    while True:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not number:
            return digits


def entry(fact: Fact) -> str:
    """The compact state-map value of a handled journey fact."""
    due = f"@{_minutes36(fact.due)}" if fact.due is not None else ""
    shipment = f":{fact.shipment_id}" if fact.shipment_id else ""
    return f"{fact.rank}{due}{shipment}"


def read_entry(value: str) -> Reached | None:
    head, _, shipment = value.partition(":")
    rank, _, due = head.partition("@")
    if not rank.isdigit():
        return None
    try:
        at = datetime.fromtimestamp(int(due, 36) * 60, UTC) if due else None
    except ValueError:
        return None
    return Reached(int(rank), shipment or None, at)


def _reached(handled: Mapping[str, str], skip: Iterable[str] = ()) -> list[Reached]:
    """The journey milestones ``handled`` remembers (but those named in ``skip``)."""
    skipped = set(skip)
    return [
        reached
        for key, value in handled.items()
        if key not in skipped
        and key.partition(":")[0] in _JOURNEY
        and (reached := read_entry(value)) is not None
    ]


def _moved(message: Message, handled: Mapping[str, str]) -> bool:
    """Whether a queued reminder's expected day has moved since it was planned."""
    own = read_entry(handled.get(fact_key(Milestone.ARRIVING_SOON, message.subject), ""))
    return own is not None and own.due is not None and own.due != _minute(message.triggered_at)


def _minute(at: datetime) -> datetime:
    return datetime.fromtimestamp(at.timestamp() // 60 * 60, UTC)


def _behind(
    rank: int,
    shipment_id: str | None,
    reached: Iterable[Reached],
    now: datetime,
    *,
    all_delivered: bool,
    done: bool,
) -> bool:
    """Whether a journey milestone of ``rank`` is behind what its parcel or order reached."""
    if rank == 0:
        return False
    if all_delivered and rank < RANK[Milestone.ALL_DELIVERED]:
        return True
    if shipment_id is None:
        return done and rank < RANK[Milestone.DELIVERED]
    return any(r.shipment_id == shipment_id and r.rank > rank and r.counts_at(now) for r in reached)


def overtaken(message: Message, handled: Mapping[str, str], *, now: datetime | None = None) -> bool:
    """Whether a queued journey message is behind a milestone handled since it was planned
    (``now``: the send time, by default the message's due time)."""
    if message.kind not in _JOURNEY:
        return False
    if message.kind == Milestone.ARRIVING_SOON.value and _moved(message, handled):
        return True
    return _behind(
        message.rank,
        message.payload.get("shipment_id"),
        _reached(handled),
        now or message.due_at,
        all_delivered=_ALL_DELIVERED in handled and message.kind != _ALL_DELIVERED,
        done=DONE in handled,
    )


# recipients -----------------------------------------------------------------------------------


def recipients(
    contacts: Contacts, prefs: Preferences, settings: NotifySettings
) -> tuple[list[Recipient], list[Recipient]]:
    """(who hears about the order, who opted out), each ``(channel, lower-cased recipient)``."""
    candidates: list[tuple[NotifyChannel, str, bool]] = []
    if contacts.email:
        candidates.append((NotifyChannel.EMAIL, contacts.email, settings.email_by_default))
    if contacts.phone:
        candidates.append((NotifyChannel.SMS, contacts.phone, settings.sms_by_default))
    for choice in sorted(prefs.choices):
        channel, _, address = choice.partition(":")
        if channel in _CUSTOMER_CHANNELS and address:
            candidates.append((NotifyChannel(channel), address, False))
    told: list[Recipient] = []
    out: list[Recipient] = []
    seen: set[Recipient] = set()
    for channel, address, by_default in candidates:
        recipient = (channel, address.strip().lower())
        if recipient in seen:
            continue
        seen.add(recipient)
        says = prefs.says(*recipient)
        if says is False:
            out.append(recipient)
        elif says or by_default:
            told.append(recipient)
    return told, out


# planning -------------------------------------------------------------------------------------


def _message(
    timeline: Timeline, fact: Fact, recipient: Recipient, due_at: datetime, extra: dict[str, Any]
) -> Message:
    """One journey message; ``extra``: the recipient's zone and locale and the order's brand,
    for rendering."""
    channel, address = recipient
    return Message(
        key=f"{timeline.order_id}|{fact.key}|{channel.value}|{address}",
        order_id=timeline.order_id,
        channel=channel,
        recipient=address,
        kind=fact.milestone.value,
        subject=fact.subject,
        payload=fact.context | extra,
        triggered_at=fact.occurred_at,
        due_at=due_at,
        rank=fact.rank,
        version=timeline.version,
    )


def _reminder_moved(fact: Fact, handled: Mapping[str, str], now: datetime) -> bool:
    if fact.due is None or fact.key not in handled or handled[fact.key] == entry(fact):
        return False
    old = read_entry(handled[fact.key])
    return old is not None and old.due is not None and now < old.due


def _too_late(fact: Fact, now: datetime) -> bool:
    """An ``arriving_soon`` reminder whose expected day has already begun."""
    return fact.due is not None and now >= fact.due + timedelta(days=1)


def _journey(
    plan: Plan,
    timeline: Timeline,
    contacts: Contacts,
    prefs: Preferences,
    handled: Mapping[str, str],
    settings: NotifySettings,
    now: datetime,
    stale_after: timedelta | None,
) -> None:
    zone = contacts.time_zone or settings.default_time_zone
    facts = journey(timeline, zone, warn_trending_late=settings.warn_trending_late)
    # a reminder for a day already begun is never sent, so it overtakes nothing either
    facts = [f for f in facts if f.key in handled or not _too_late(f, now)]
    # a reminder not yet due whose expected day moved: its new due replaces the old one, and
    # the queued message (planned for the old day) is dropped when due (see ``overtaken``)
    moved = {f.key: entry(f) for f in facts if _reminder_moved(f, handled, now)}
    plan.handled |= moved
    reached = _reached(handled, skip=moved) + [Reached(f.rank, f.shipment_id, f.due) for f in facts]
    all_delivered = _ALL_DELIVERED in handled or any(
        f.milestone is Milestone.ALL_DELIVERED for f in facts
    )
    done = order_complete(timeline) or DONE in handled
    told, opted_out = recipients(contacts, prefs, settings)
    extra = {"time_zone": zone, "locale": contacts.locale, "brand": timeline.brand}
    for fact in facts:
        if fact.key in handled:
            continue
        plan.handled[fact.key] = entry(fact)
        not_before = max(now, fact.due) if fact.due is not None else now
        due_at = deliver_at(not_before, zone, settings.quiet_start_hour, settings.quiet_end_hour)
        messages = [_message(timeline, fact, r, due_at, extra) for r in told]
        behind = _behind(
            fact.rank,
            fact.shipment_id,
            reached,
            now,
            all_delivered=all_delivered and fact.milestone is not Milestone.ALL_DELIVERED,
            done=done,
        )
        stale = (
            stale_after is not None and fact.due is None and now - fact.occurred_at > stale_after
        )
        if behind or stale:
            plan.suppressed += [(m, OVERTAKEN if behind else STALE) for m in messages]
        else:
            plan.messages += messages
        plan.suppressed += [
            (_message(timeline, fact, r, due_at, extra), OPTED_OUT) for r in opted_out
        ]
    if done and DONE not in handled:
        plan.handled[DONE] = "1"


def _agent_messages(
    plan: Plan,
    timeline: Timeline,
    contacts: Contacts,
    prefs: Preferences,
    handled: Mapping[str, str],
    settings: NotifySettings,
    now: datetime,
) -> None:
    """Messages agents sent the customer (:mod:`~projections.notify.agent_messages`): e-mail at
    once, SMS after quiet hours; never stale, never overtaken."""
    zone = contacts.time_zone or settings.default_time_zone
    told, opted_out = recipients(contacts, prefs, settings)
    extra = {"time_zone": zone, "locale": contacts.locale, "brand": timeline.brand}
    sms_due = deliver_at(now, zone, settings.quiet_start_hour, settings.quiet_end_hour)
    for sent in pending(timeline, handled):
        plan.handled[handled_key(sent.message_id)] = "1"
        for recipient in told:
            due = sms_due if recipient[0] is NotifyChannel.SMS else now
            message = agent_message(timeline, sent, recipient, due, extra)
            if sent.template in AGENT_TEMPLATES:
                plan.messages.append(message)
            else:
                plan.suppressed.append((message, UNKNOWN_TEMPLATE))
        plan.suppressed += [
            (agent_message(timeline, sent, r, now, extra), OPTED_OUT) for r in opted_out
        ]


def _report_alerts(
    plan: Plan,
    timeline: Timeline,
    handled: Mapping[str, str],
    settings: NotifySettings,
    now: datetime,
    stale_after: timedelta | None,
) -> None:
    """Team-chat alerts of customer reports (:func:`~projections.notify.alerts.report_alerts`);
    a report older than ``stale_after`` is suppressed (``stale``) like old journey news."""
    messages, marked = report_alerts(timeline, handled, settings, now)
    plan.handled |= dict.fromkeys(marked, "1")
    for message in messages:
        if stale_after is not None and now - message.triggered_at > stale_after:
            plan.suppressed.append((message, STALE))
        else:
            plan.messages.append(message)


def _type_matches(wanted: Iterable[str], kind: str) -> bool:
    for pattern in wanted:
        if pattern in ("*", kind) or (pattern.endswith(".*") and kind.startswith(pattern[:-1])):
            return True
    return False


def subscribed(subscription: Subscription, event: IntegratorEvent, timeline: Timeline) -> bool:
    """Whether an active subscription wants ``event`` about this order."""
    if subscription.paused or subscription.disabled_reason or subscription.disabled_at:
        return False
    if not _type_matches(subscription.event_types, event.type):
        return False
    filters = subscription.filters
    channel = timeline.channel.value if timeline.channel else None
    if filters.channels and channel not in filters.channels:
        return False
    if filters.brands and timeline.brand not in filters.brands:
        return False
    return not filters.carriers or bool(set(filters.carriers) & set(carriers_of(timeline)))


def _webhooks(
    plan: Plan,
    timeline: Timeline,
    handled: Mapping[str, str],
    subscriptions: Sequence[Subscription],
    now: datetime,
) -> None:
    events, entries = integrator_events(timeline, handled)
    plan.handled.update(entries)
    for event in events:
        payload: dict[str, Any] = {"event_id": event.id, "data": event.data}
        for subscription in subscriptions:
            if not subscribed(subscription, event, timeline):
                continue
            plan.messages.append(
                Message(
                    key=f"{timeline.order_id}|{event.id}|webhook|{subscription.id}",
                    order_id=timeline.order_id,
                    channel=NotifyChannel.WEBHOOK,
                    recipient=subscription.id,
                    kind=event.type,
                    subject=event.subject,
                    payload=payload,
                    triggered_at=event.occurred_at,
                    due_at=now,
                    version=timeline.version,
                )
            )


def plan_order(
    timeline: Timeline,
    contacts: Contacts,
    prefs: Preferences,
    handled: Mapping[str, str],
    subscriptions: Sequence[Subscription],
    settings: NotifySettings,
    now: datetime,
    *,
    stale_after: timedelta | None = None,
) -> Plan:
    """Everything to send about ``timeline`` given what was ``handled`` before, at ``now``.

    ``stale_after``: journey milestones older than this are marked handled and suppressed
    (``stale``) instead of sent — for a first run over orders that happened long ago.
    """
    plan = Plan()
    _journey(plan, timeline, contacts, prefs, handled, settings, now, stale_after)
    _agent_messages(plan, timeline, contacts, prefs, handled, settings, now)
    _report_alerts(plan, timeline, handled, settings, now, stale_after)
    _webhooks(plan, timeline, handled, subscriptions, now)
    return plan
