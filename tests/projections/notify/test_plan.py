"""The planner on real timelines: first message per milestone, never behind the journey, the
right recipients at the right time, webhooks to matching subscriptions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson

from projections.notify.integrator import webhook_body
from projections.notify.model import (
    Contacts,
    Message,
    NotifyChannel,
    Preferences,
    Subscription,
    SubscriptionFilters,
)
from projections.notify.plan import DONE, overtaken, plan_order, recipients
from projections.timeline import fold
from tests.projections.notify.journeys import SETTINGS, example, example_events, plan
from wismo.events import event_from_dict

T = datetime(2026, 3, 1, tzinfo=UTC)


def subscription(sid: str, *types: str, **options: object) -> Subscription:
    return Subscription.model_validate(
        {
            "id": sid,
            "url": "https://hooks.example/wismo",
            "event_types": types,
            "secrets": ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",),
            "created_at": T,
            "updated_at": T,
            **options,
        }
    )


def journey_keys(messages: list[Message]) -> list[str]:
    return [m.key for m in messages if m.channel is not NotifyChannel.WEBHOOK]


def test_first_sight_of_a_shipped_parcel_tells_the_e_mail_address_after_quiet_hours() -> None:
    timeline = example("wms:fo-1-shipped")  # 16:05 UTC, 17:05 in Paris: not quiet
    planned = plan(timeline)
    assert journey_keys(planned.messages) == [
        "ORD-1001|shipped:SH-1|email|pat.doe@example.com",
        "ORD-1001|arriving_soon:SH-1|email|pat.doe@example.com",
    ]
    shipped, soon = planned.messages[:2]
    assert shipped.due_at == timeline.last_event_at
    assert shipped.recipient == "pat.doe@example.com"
    assert shipped.rank == 1
    assert shipped.version == timeline.version
    # midnight in Paris on 4 March is quiet: the reminder goes at 08:00 Paris time
    assert soon.due_at == datetime(2026, 3, 4, 7, 0, tzinfo=UTC)
    assert planned.handled["shipped:SH-1"] == "1:SH-1"
    late = plan(timeline, now=datetime(2026, 3, 2, 21, 30, tzinfo=UTC))  # 22:30 in Paris
    assert late.messages[0].due_at == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


def test_an_order_seen_complete_at_once_tells_only_the_latest_news() -> None:
    planned = plan(example())
    assert journey_keys(planned.messages) == [
        "ORD-1001|all_delivered|email|pat.doe@example.com",
        "ORD-1001|return_received:RMA-7|email|pat.doe@example.com",
        "ORD-1001|refund_issued:RF-7|email|pat.doe@example.com",
    ]
    suppressed = {m.key.split("|")[1]: reason for m, reason in planned.suppressed}
    assert suppressed == {
        "shipped:SH-1": "overtaken",
        "shipped:SH-2": "overtaken",
        "out_for_delivery:SH-1": "overtaken",
        "delivered:SH-1": "overtaken",
        "delivered:SH-2": "overtaken",
    }
    assert planned.handled[DONE] == "1"
    assert all(key in planned.handled for key in suppressed)


def test_recipients_follow_defaults_opt_ins_and_opt_outs() -> None:
    contacts = Contacts(email="Ann@Example.com", phone="+4915112345678")
    told, out = recipients(contacts, Preferences(), SETTINGS)
    assert told == [(NotifyChannel.EMAIL, "ann@example.com")]
    assert out == []
    prefs = Preferences(
        {
            "email:ann@example.com": False,
            "sms:+4915112345678": True,
            "email:bob@example.com": True,
            "email:eve@example.com": False,
        }
    )
    told, out = recipients(contacts, prefs, SETTINGS)
    assert told == [(NotifyChannel.SMS, "+4915112345678"), (NotifyChannel.EMAIL, "bob@example.com")]
    assert out == [
        (NotifyChannel.EMAIL, "ann@example.com"),
        (NotifyChannel.EMAIL, "eve@example.com"),
    ]
    quiet = SETTINGS.model_copy(update={"email_by_default": False, "sms_by_default": True})
    told, _ = recipients(contacts, Preferences(), quiet)
    assert told == [(NotifyChannel.SMS, "+4915112345678")]


def test_opted_out_recipients_get_a_suppressed_record_and_nobody_still_marks_handled() -> None:
    timeline = example("wms:fo-1-shipped")
    prefs = Preferences({"email:pat.doe@example.com": False})
    planned = plan(timeline, prefs=prefs)
    assert journey_keys(planned.messages) == []
    assert {reason for _, reason in planned.suppressed} == {"opted_out"}
    assert {"shipped:SH-1", "arriving_soon:SH-1"} <= set(planned.handled)
    nobody = plan(timeline, contacts=Contacts())
    assert nobody.messages == []
    assert nobody.suppressed == []
    assert "shipped:SH-1" in nobody.handled


def test_a_message_queued_behind_quiet_hours_is_overtaken_at_send_time() -> None:
    handled: dict[str, str] = {}
    ofd = example("ups:1Z999AA10123456784:OT")
    first = plan(ofd, handled)
    handled |= first.handled
    out_for_delivery = next(m for m in first.messages if m.kind == "out_for_delivery")
    assert not overtaken(out_for_delivery, handled)
    delivered = plan(example("ups:1Z999AA10123456784:KB"), handled)
    handled |= delivered.handled
    assert overtaken(out_for_delivery, handled)
    told = next(m for m in delivered.messages if m.kind == "delivered")
    assert not overtaken(told, handled)
    # returns and refunds are outside the journey: never overtaken
    refund = next(m for m in plan(example()).messages if m.kind == "refund_issued")
    assert not overtaken(refund, handled | {"all_delivered": "6"})


def test_an_arriving_soon_reminder_overtakes_only_from_its_due_time() -> None:
    planned = plan(example("wms:fo-1-shipped"))
    handled = dict(planned.handled)
    reminder_due = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)  # midnight in Paris
    queued = next(m for m in planned.messages if m.kind == "shipped")
    assert not overtaken(queued, handled, now=reminder_due - timedelta(minutes=1))
    assert overtaken(queued, handled, now=reminder_due)


def test_stale_milestones_are_suppressed_when_asked() -> None:
    timeline = example("wms:fo-1-shipped")
    assert timeline.last_event_at is not None
    later = timeline.last_event_at + timedelta(days=30)
    contacts = Contacts(email="pat.doe@example.com")
    planned = plan_order(
        timeline, contacts, Preferences(), {}, (), SETTINGS, later, stale_after=timedelta(days=2)
    )
    assert [reason for _, reason in planned.suppressed] == ["stale"]
    assert planned.messages == []  # the reminder's day is long gone: not planned at all
    assert "shipped:SH-1" in planned.handled


def test_webhooks_go_to_matching_active_subscriptions() -> None:
    timeline = example("wms:fo-1-shipped")  # b2c, shipped with UPS
    subs = (
        subscription("sub_all", "*"),
        subscription("sub_orders", "order.status_changed"),
        subscription("sub_ups", "shipment.*", filters={"carriers": ("ups",)}),
        subscription("sub_dhl", "shipment.*", filters={"carriers": ("dhl",)}),
        subscription("sub_b2b", "*", filters={"channels": ("b2b",)}),
        subscription("sub_paused", "*", paused=True),
        subscription("sub_off", "*", disabled_reason="410 Gone", disabled_at=T),
        subscription("sub_brand", "*", filters=SubscriptionFilters(brands=("acme",))),
    )
    planned = plan(timeline, subscriptions=subs)
    hooks = [m for m in planned.messages if m.channel is NotifyChannel.WEBHOOK]
    got = sorted((m.recipient, m.kind) for m in hooks)
    assert got == [
        ("sub_all", "order.status_changed"),
        ("sub_all", "shipment.milestone"),
        ("sub_orders", "order.status_changed"),
        ("sub_ups", "shipment.milestone"),
    ]
    message = next(m for m in hooks if m.recipient == "sub_ups")
    assert message.key == f"ORD-1001|{message.payload['event_id']}|webhook|sub_ups"
    body = orjson.loads(webhook_body(message))
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "shipment.milestone"
    assert body["data"]["order_version"] == timeline.version
    assert body["data"]["shipment"]["tracking_number"] == "1Z999AA10123456784"
    assert body["data"]["carriers"] == ["ups"]
    assert body["timestamp"].endswith("Z")
    # a brand filter keeps only that brand's orders (this one has none; the same order as acme's)
    branded = plan(dataclasses.replace(timeline, brand="acme"), subscriptions=subs)
    assert {m.recipient for m in branded.messages if m.channel is NotifyChannel.WEBHOOK} >= {
        "sub_brand"
    }
    again = plan(timeline, planned.handled, subscriptions=subs)
    assert again.messages == []


def test_a_reminder_whose_day_moved_before_it_was_due_is_dropped() -> None:
    events = example_events()
    upto = [e.event_id for e in events].index("wms:fo-2-shipped") + 1
    first = plan(fold(events[:upto], "ORD-1001"))
    reminder = next(m for m in first.messages if m.key.startswith("ORD-1001|arriving_soon:SH-2"))
    assert reminder.due_at == datetime(2026, 3, 4, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    revised = event_from_dict(
        {
            "event_id": "dhl:JD014600006281230704:edd-early",
            "source": "dhl",
            "kind": "edd.revised",
            "tracking_number": "JD014600006281230704",
            "occurred_at": "2026-03-03T12:00:00Z",
            "payload": {"estimated_delivery": "2026-03-07", "carrier": "dhl"},
        }
    )
    timeline = fold([*events[:upto], revised], "ORD-1001")
    handled = dict(first.handled)
    later = plan(timeline, handled)
    assert journey_keys(later.messages) == []  # once per milestone: no second reminder
    assert later.handled["arriving_soon:SH-2"] != handled["arriving_soon:SH-2"]
    handled |= later.handled
    assert overtaken(reminder, handled)  # it would name the wrong day
    other = next(m for m in first.messages if m.key.startswith("ORD-1001|arriving_soon:SH-1"))
    assert not overtaken(other, handled)
    assert plan(timeline, handled).handled == {}
