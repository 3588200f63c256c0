"""Self-service through the notify role on real Redis: an agent's message to the customer waits
for the order's contacts like the journey, is planned once however often the timeline comes
back, is never stale, goes out by real SMTP and shows in the order's messages list; a cancel
request goes to the integrator's webhook at once."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from projections.notify.model import MessageState, NotifyChannel
from projections.serialize import timeline_to_json
from projections.timeline_model import CancelRequestView, CustomerMessageView, Timeline
from streams.notify.dispatch import Dispatcher, Senders, TemplateRenderer
from streams.notify.senders import EmailSender
from tests.projections.notify.journeys import example_events
from tests.streams.notify.test_agent import (  # noqa: F401 (fixtures)
    Timelines,
    change,
    planner_for,
    redis_client,
    redis_prefix,
    shipped_timeline,
)
from tests.streams.notify.test_email import Inbox, inbox  # noqa: F401 (fixture)
from wismo.settings import NotifySettings, Settings
from wismo.vocab import CancelStatus

MESSAGE_ID = "m_0123456789abcdef"
WORDS = "Your parcel is with the carrier again; it should arrive on Friday."


def _with_actions(at: datetime) -> Timeline:
    timeline = shipped_timeline()
    sent = CustomerMessageView(MESSAGE_ID, "agent_update", "ana", at, WORDS)
    asked = CancelRequestView("cq_0123456789abcdef", CancelStatus.REQUESTED, {"L2": 1}, None, at)
    return dataclasses.replace(
        timeline, messages=[sent], cancel_requests=[asked], version=timeline.version + 2
    )


async def test_an_agent_message_waits_for_the_contacts_then_is_planned_once(
    redis_client: aioredis.Redis,  # noqa: F811
    redis_prefix: str,  # noqa: F811
) -> None:
    settings = Settings(notify=NotifySettings(quiet_start_hour=0, quiet_end_hour=0))
    planner = planner_for(redis_client, redis_prefix, settings)
    now = shipped_timeline().last_event_at
    assert now is not None
    timeline = _with_actions(now)
    planner.timelines = Timelines({"ORD-1001": timeline_to_json(timeline)})
    await planner.subscriptions.create("http://127.0.0.1:9/oms", ["cancel.*"], now=now)
    await planner.on_changes([change(timeline)], now)
    entries = await planner.ledger.for_order("ORD-1001", 100)
    assert [(e.message.channel, e.message.kind) for e in entries] == [
        (NotifyChannel.WEBHOOK, "cancel.requested")
    ]
    # the contacts arrive: the message is planned, once, however often the timeline comes back
    await planner.on_events(example_events()[:1], now)
    await planner.replan_pending(now + timedelta(seconds=1))
    for _ in range(2):
        await planner.on_changes([change(timeline)], now + timedelta(seconds=2))
    entries = await planner.ledger.for_order("ORD-1001", 100)
    agent = [e for e in entries if e.message.kind == "agent_update"]
    assert [(e.message.channel, e.message.recipient, e.state) for e in agent] == [
        (NotifyChannel.EMAIL, "pat.doe@example.com", MessageState.QUEUED)
    ]
    assert agent[0].message.subject == MESSAGE_ID


async def test_an_agent_message_seen_days_later_is_still_sent_by_smtp(
    redis_client: aioredis.Redis,  # noqa: F811
    redis_prefix: str,  # noqa: F811
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    box, port = inbox
    notify = NotifySettings(smtp_host="127.0.0.1", smtp_port=port)
    planner = planner_for(redis_client, redis_prefix, Settings(notify=notify))
    placed = shipped_timeline().last_event_at
    assert placed is not None
    await planner.on_events(example_events()[:1], placed)
    # the notify role was away for a week: the journey is stale, the agent's message is not
    later = placed + timedelta(days=7)
    await planner.on_changes([change(_with_actions(later - timedelta(hours=1)))], later)
    sender = EmailSender(notify)
    try:
        dispatcher = Dispatcher(
            planner.ledger,
            notify,
            Senders(email=sender),
            planner.subscriptions,
            TemplateRenderer(notify),
            clock=lambda: later,
        )
        await dispatcher.dispatch()
        await dispatcher.dispatch()
    finally:
        await sender.close()
    (mail,) = box.mails
    assert mail["Subject"] == "News about your order 1001"
    body = mail.get_body(("plain",))
    assert body is not None
    assert WORDS in body.get_content()
    entries = await planner.ledger.for_order("ORD-1001", 100)
    states = {(e.message.kind, e.state) for e in entries}
    assert ("agent_update", MessageState.SENT) in states
    assert ("shipped", MessageState.SUPPRESSED) in states
