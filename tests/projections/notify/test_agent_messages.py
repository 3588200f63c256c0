"""Messages agents send customers (``customer.messaged``): planned once per (message, channel,
recipient), opt-out respected, e-mail at once and SMS after quiet hours, never stale; every agent
template renders with the agent's words, escaped, and can be overridden."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.notify.agent_messages import AGENT_TEMPLATES, UNKNOWN_TEMPLATE, handled_key
from projections.notify.model import Contacts, Message, NotifyChannel, Preferences
from projections.notify.plan import OPTED_OUT, Plan, plan_order
from projections.notify.render import SMS_LIMIT, TEMPLATES, render_email, render_sms
from projections.notify.unsubscribe import links_for
from projections.timeline_model import CustomerMessageView, ExceptionView, Timeline
from streams.agents.notify import journey_entry, without_journey
from tests.projections.notify.journeys import CONTACTS, SETTINGS, example, plan
from wismo.settings import NotifySettings
from wismo.vocab import ExceptionState, ExceptionType, ProblemType

SENDER = "Acme Deliveries <deliveries@acme.example>"
EXCEPTION = "cr_00000000000000aa"
# 03:00 in Paris: inside the default quiet hours
NIGHT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
NOON = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
TEXT = "Your replacement left our warehouse today.\n\nIt should reach you <b>Friday</b>."
SMS_ON = NotifySettings(sms_by_default=True)


def _sent(template: str = "agent_update", message_id: str = "m_00000000000000a1") -> Timeline:
    base = example()
    report = ExceptionView(
        EXCEPTION,
        ExceptionState.ACKNOWLEDGED,
        type=ExceptionType.CUSTOMER_REPORTED,
        problem=ProblemType.DAMAGED,
        opened_at=NIGHT - timedelta(days=1),
    )
    sent = CustomerMessageView(message_id, template, "ana", NIGHT, TEXT, EXCEPTION)
    return dataclasses.replace(
        base, exceptions=[*base.exceptions, report], messages=[sent], version=base.version + 2
    )


def _agent(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.kind in AGENT_TEMPLATES or m.kind == "nope"]


def test_a_message_goes_to_every_contact_once_email_now_sms_after_quiet_hours() -> None:
    timeline = _sent()
    before = dataclasses.replace(timeline, messages=[])
    handled = plan(before, now=NIGHT - timedelta(hours=1)).handled  # the journey, told before
    planned = plan(timeline, handled, settings=SMS_ON, now=NIGHT)
    sent = _agent(planned.messages)
    assert sorted((m.channel, m.recipient) for m in sent) == [
        (NotifyChannel.EMAIL, "pat.doe@example.com"),
        (NotifyChannel.SMS, "+33612345678"),
    ]
    email = next(m for m in sent if m.channel is NotifyChannel.EMAIL)
    sms = next(m for m in sent if m.channel is NotifyChannel.SMS)
    assert email.due_at == NIGHT
    assert sms.due_at == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert email.key == "ORD-1001|agent:m_00000000000000a1|email|pat.doe@example.com"
    assert email.kind == "agent_update"
    assert email.triggered_at == NIGHT
    assert email.payload["text"] == TEXT
    assert email.payload["problem"] == "damaged"
    assert planned.handled[handled_key("m_00000000000000a1")] == "1"
    again = plan(timeline, handled | planned.handled, settings=SMS_ON, now=NIGHT)
    assert _agent(again.messages) == []
    assert _agent([m for m, _ in again.suppressed]) == []


def test_an_opted_out_recipient_gets_a_suppressed_record_and_old_messages_are_not_stale() -> None:
    timeline = _sent()
    prefs = Preferences({"email:pat.doe@example.com": False})
    later = NIGHT + timedelta(days=30)
    planned = _stale_plan(timeline, prefs, later)
    assert _agent(planned.messages) == []  # SMS is off by default, e-mail opted out
    assert [(m.channel, r) for m, r in planned.suppressed if m.kind == "agent_update"] == [
        (NotifyChannel.EMAIL, OPTED_OUT)
    ]
    fresh = _stale_plan(timeline, Preferences(), later)
    assert [m.recipient for m in _agent(fresh.messages)] == ["pat.doe@example.com"]


def _stale_plan(timeline: Timeline, prefs: Preferences, now: datetime) -> Plan:
    return plan_order(
        timeline, CONTACTS, prefs, {}, (), SETTINGS, now, stale_after=timedelta(days=2)
    )


def test_an_unknown_template_is_suppressed_not_failed() -> None:
    planned = plan(_sent("nope"), now=NOON)
    assert [r for m, r in planned.suppressed if m.kind == "nope"] == [UNKNOWN_TEMPLATE]
    assert not [m for m in planned.messages if m.kind == "nope"]


def test_no_contact_yet_holds_the_message_back_like_the_journey() -> None:
    planned = plan(_sent(), now=NOON)
    held = without_journey(planned)
    assert not [m for m in held.messages if m.kind in AGENT_TEMPLATES]
    assert handled_key("m_00000000000000a1") not in held.handled
    assert journey_entry(handled_key("m_00000000000000a1"))
    assert not journey_entry("w.c:cq_1")


def _message(template: str, text: str | None = TEXT) -> Message:
    timeline = _sent(template)
    timeline.messages[0].text = text
    planned = plan(timeline, settings=SMS_ON, now=NOON)
    return next(
        m for m in planned.messages if m.kind == template and m.channel is NotifyChannel.EMAIL
    )


@pytest.mark.parametrize("template", sorted(AGENT_TEMPLATES))
def test_every_agent_template_renders_with_the_agents_words(template: str) -> None:
    for suffix in (".subject.txt", ".txt", ".html", ".sms.txt"):
        assert (TEMPLATES / f"{template}{suffix}").is_file()
    message = _message(template)
    links = links_for(message, SETTINGS)
    email = render_email(message, sender=SENDER, links=links)
    assert "1001" in email.subject
    assert "Your replacement left our warehouse today." in email.text
    assert "<b>Friday</b>" in email.text
    assert "&lt;b&gt;Friday&lt;/b&gt;" in email.html  # the agent's words are escaped
    assert "<b>Friday" not in email.html
    for body in (email.text, email.html):
        assert links.status_url in body
        assert links.unsubscribe_url in body
    if template == "agent_apology":
        assert "your order arrived damaged" in email.text
    sms = render_sms(message, links=links)
    assert len(sms) <= SMS_LIMIT
    assert links.status_url in sms


@pytest.mark.parametrize("template", sorted(AGENT_TEMPLATES))
def test_every_agent_template_renders_without_words(template: str) -> None:
    message = _message(template, text=None)
    links = links_for(message, SETTINGS)
    email = render_email(message, sender=SENDER, links=links)
    assert "None" not in email.text
    assert "None" not in render_sms(message, links=links)


def test_an_agent_template_can_be_overridden(tmp_path: Path) -> None:
    (tmp_path / "agent_update.subject.txt").write_text("Order {{ order_number }}: a word from us")
    message = _message("agent_update")
    links = links_for(message, SETTINGS)
    email = render_email(message, sender=SENDER, links=links, templates_dir=tmp_path)
    assert email.subject == "Order 1001: a word from us"
    assert "Your replacement left" in email.text  # the rest still packaged


def test_templates_that_need_words_are_flagged_for_the_console() -> None:
    assert AGENT_TEMPLATES["agent_need_info"].needs_text
    assert all(t.label for t in AGENT_TEMPLATES.values())
    assert all(name == t.name for name, t in AGENT_TEMPLATES.items())


@given(st.lists(st.sampled_from(["m_1", "m_2", "m_3"]), min_size=1, max_size=8))
def test_each_message_is_planned_once_however_often_the_timeline_is_seen(
    seen: list[str],
) -> None:
    handled: dict[str, str] = {}
    keys: list[str] = []
    known: list[CustomerMessageView] = []
    base = example()
    for message_id in seen:
        if all(m.message_id != message_id for m in known):
            known.append(CustomerMessageView(message_id, "agent_update", "ana", NOON))
        timeline = dataclasses.replace(base, messages=list(known))
        planned = plan(timeline, handled, contacts=Contacts(email="a@b.example"), now=NOON)
        handled |= planned.handled
        keys += [m.key for m in planned.messages if m.kind == "agent_update"]
    assert len(keys) == len(set(keys)) == len({m.message_id for m in known})
