"""Every packaged template renders a real message: order number, wording, links; HTML with its
CSS inlined and escaped values; SMS within its length; an override directory wins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from projections.notify.model import Message, Milestone, NotifyChannel
from projections.notify.render import SMS_LIMIT, TEMPLATES, render_email, render_sms
from projections.notify.unsubscribe import Links, links_for
from tests.projections.notify.journeys import SETTINGS, example_events, plan, replay

SENDER = "Acme Deliveries <deliveries@acme.example>"


def samples() -> dict[str, Message]:
    """One message per milestone, from ORD-1001 seen for the first time at each of its events."""
    found: dict[str, Message] = {}
    for timeline in replay(example_events(), "ORD-1001"):
        planned = plan(timeline)
        for message in planned.messages + [m for m, _ in planned.suppressed]:
            if message.channel is NotifyChannel.EMAIL:
                found.setdefault(message.kind, message)
    return found


SAMPLES = samples()


def test_there_is_a_sample_and_a_template_set_for_every_milestone() -> None:
    assert set(SAMPLES) == {m.value for m in Milestone}
    for milestone in Milestone:
        for suffix in (".subject.txt", ".txt", ".html", ".sms.txt"):
            assert (TEMPLATES / f"{milestone.value}{suffix}").is_file()


@pytest.mark.parametrize("kind", sorted(m.value for m in Milestone))
def test_every_e_mail_renders_with_its_wording_and_links(kind: str) -> None:
    message = SAMPLES[kind]
    links = links_for(message, SETTINGS)
    email = render_email(message, sender=SENDER, links=links)
    assert "1001" in email.subject
    assert "\n" not in email.subject
    for text in (email.text, email.html):
        assert "1001" in text
        assert links.unsubscribe_url in text
        assert links.status_url in text
        assert "Acme Deliveries" in text
    if kind == "delayed":
        reason = message.payload["reason"]
        assert reason
        assert reason in email.text
        assert reason in email.html
    if kind == "refund_issued":
        assert "€19.90" in email.text  # Babel, in the recipient's locale
    assert "<style" not in email.html
    assert 'style="' in email.html
    assert email.html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in email.html
    sms = render_sms(message, links=links)
    assert len(sms) <= SMS_LIMIT
    assert "1001" in sms
    assert links.status_url in sms


def test_html_escapes_what_the_text_keeps() -> None:
    message = SAMPLES["shipped"]
    payload = message.payload | {"items": [{"name": "<b>Mug</b> & co", "quantity": 1}]}
    message = dataclasses.replace(message, payload=payload)
    email = render_email(message, sender=SENDER, links=Links("https://s.example/t", "https://u"))
    assert "&lt;b&gt;Mug&lt;/b&gt; &amp; co" in email.html
    assert "<b>Mug</b>" not in email.html
    assert "1 x <b>Mug</b> & co" in email.text


def test_a_split_order_names_the_parcel() -> None:
    email = render_email(SAMPLES["delivered"], sender=SENDER, links=Links("https://s", "https://u"))
    assert email.subject.startswith("Parcel ")
    assert " of 2 of your order 1001" in email.subject


def test_a_long_sms_is_cut_but_keeps_its_link() -> None:
    message = SAMPLES["delayed"]
    message = dataclasses.replace(message, payload=message.payload | {"reason": "Late. " * 100})
    links = Links("https://track.example/track?tracking=1Z", "https://u")
    sms = render_sms(message, links=links)
    assert len(sms) == SMS_LIMIT
    assert sms.endswith(" https://track.example/track?tracking=1Z")
    assert "…" in sms


def test_a_template_in_the_override_directory_wins(tmp_path: Path) -> None:
    (tmp_path / "shipped.subject.txt").write_text("Parcel news for {{ order_number }}\n")
    (tmp_path / "base.txt").write_text(
        "{% block content %}{% endblock %}\nStop: {{ links.unsubscribe_url }}\n"
    )
    links = Links("https://s.example/t", "https://u.example/x")
    email = render_email(SAMPLES["shipped"], sender=SENDER, links=links, templates_dir=tmp_path)
    assert email.subject == "Parcel news for 1001"
    assert email.text.rstrip().endswith("Stop: https://u.example/x")
    assert "Track your parcel" in email.html  # the packaged HTML still applies
    packaged = render_email(SAMPLES["shipped"], sender=SENDER, links=links)
    assert packaged.subject != email.subject
