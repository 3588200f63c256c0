"""Messages in the recipient's language and the order's brand: every template in every shipped
language with no English left, dates, times and amounts by Babel in the recipient's locale and
zone, the language's precedence (order, brand, default), the brand's sender, logo, colours,
support contact and templates, and an unbranded message as before."""

from __future__ import annotations

import dataclasses
import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from projections.notify import render
from projections.notify.agent_messages import AGENT_TEMPLATES
from projections.notify.branding import (
    message_language,
    sender_of,
    sms_from_of,
    voice,
    with_brand_zone,
)
from projections.notify.model import Contacts, Message, NotifyChannel
from projections.notify.render import SMS_LIMIT, render_email, render_sms
from projections.notify.unsubscribe import Links, links_for
from streams.notify.dispatch import TemplateRenderer
from tests.projections.notify.journeys import SETTINGS, example, plan
from tests.projections.notify.test_agent_messages import _message as agent_sample
from tests.projections.notify.test_render import SAMPLES
from wismo.i18n import LOCALES_DIR, SHIPPED, translations
from wismo.settings import BrandSettings, I18nSettings, NotifySettings, Settings

SENDER = "Acme Deliveries <deliveries@acme.example>"
LINKS = Links("https://s.example/track?order=1001", "https://s.example/v1/notify/unsubscribe?t=x")
FOREIGN = [lang for lang in SHIPPED if lang != "en"]
KAFFEEBERG = BrandSettings(
    name="Kaffeehaus Berg",
    logo_url="/static/brands/kaffeeberg.svg",
    primary_color="#5b3a29",
    accent_color="#c8a165",
    support_email="hilfe@kaffeeberg.example",
    support_phone="+49 30 1234567",
    locale="de",
    sender="Kaffeehaus Berg <versand@kaffeeberg.example>",
    sms_from="+4930999",
)
NORTHWIND = BrandSettings(name="Northwind Outfitters", locale="en")
BRANDED = Settings(
    notify=NotifySettings(public_url="https://wismo.example/"),
    brands={"kaffeeberg": KAFFEEBERG, "northwind": NORTHWIND},
)
_PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _messages() -> list[Message]:
    return [*SAMPLES.values(), *(agent_sample(name) for name in sorted(AGENT_TEMPLATES))]


def _english_fragments(lang: str) -> set[str]:
    """The English words of every message id the catalog of ``lang`` translates differently."""
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    fragments = set()
    for message in catalog:
        if message.id and message.string and message.string != message.id:
            fragments |= {p.strip() for p in _PLACEHOLDER.split(str(message.id))}
    return {fragment for fragment in fragments if len(fragment) >= 10}


def _with(message: Message, **payload: Any) -> Message:
    return dataclasses.replace(message, payload=message.payload | payload)


@pytest.mark.parametrize("lang", FOREIGN)
@pytest.mark.parametrize("message", _messages(), ids=lambda m: m.kind)
def test_every_message_renders_in_every_language_without_english(
    message: Message, lang: str
) -> None:
    english = render_email(message, sender=SENDER, links=LINKS)
    email = render_email(message, sender=SENDER, links=LINKS, lang=lang)
    sms = render_sms(message, links=LINKS, lang=lang)
    assert email.lang == lang
    assert f'<html lang="{lang}">' in email.html
    assert email.subject
    assert "\n" not in email.subject
    assert email.subject != english.subject
    assert email.text != english.text
    assert len(sms) <= SMS_LIMIT
    assert LINKS.status_url in sms
    for body in (email.text, email.html):
        assert "1001" in body
        assert LINKS.unsubscribe_url in body
    left = [
        fragment
        for fragment in _english_fragments(lang)
        if any(fragment in part for part in (email.subject, email.text, email.html, sms))
    ]
    assert not left, f"English left in the {lang} {message.kind} message: {left}"
    assert "Your replacement" not in email.subject  # the agent's own words stay in the body


def test_the_agents_words_are_kept_as_written_in_any_language() -> None:
    message = agent_sample("agent_apology")
    email = render_email(message, sender=SENDER, links=LINKS, lang="de")
    assert "Your replacement left our warehouse today." in email.text
    assert "Ihre Bestellung beschädigt angekommen ist" in email.text  # the problem, translated


def test_a_german_e_mail_writes_days_times_and_amounts_the_german_way() -> None:
    parcel = SAMPLES["arriving_soon"].payload["parcel"] | {
        "estimated_delivery": "2026-03-06",
        "window_start": "2026-03-06T13:00:00+00:00",
        "window_end": "2026-03-06T15:30:00+00:00",
    }
    soon = _with(SAMPLES["arriving_soon"], parcel=parcel, time_zone="Europe/Berlin")
    german = render_email(soon, sender=SENDER, links=LINKS, lang="de")
    assert "am Freitag, 6. März" in german.text
    assert "zwischen 14:00 und 16:30 Uhr" in german.text  # the recipient's zone, 24 hours
    english = render_email(soon, sender=SENDER, links=LINKS)
    assert "on Friday, March 6" in english.text
    assert "between 2:00\u202fPM and 4:30\u202fPM" in english.text
    refund = _with(SAMPLES["refund_issued"], amount="1234.5", currency="EUR")
    assert "1.234,50\xa0€" in render_email(refund, sender=SENDER, links=LINKS, lang="de").text
    assert "1\u202f234,50\xa0€" in render_email(refund, sender=SENDER, links=LINKS, lang="fr").text
    assert "€1,234.50" in render_email(refund, sender=SENDER, links=LINKS).text


def test_a_split_order_names_the_parcel_in_the_recipients_language() -> None:
    subjects = {
        lang: render_email(SAMPLES["delivered"], sender=SENDER, links=LINKS, lang=lang).subject
        for lang in SHIPPED
    }
    assert subjects["de"].startswith("Paket ")
    assert " von 2 Ihrer Bestellung 1001" in subjects["de"]
    assert subjects["fr"].startswith("Le colis ")
    assert "sur 2 de votre commande" in subjects["fr"]
    assert subjects["es"].startswith("El paquete ")
    assert "de 2 de tu pedido" in subjects["es"]
    assert subjects["nl"].startswith("Pakket ")
    assert "van 2 van je bestelling" in subjects["nl"]


def test_a_quoted_reason_is_the_status_pages_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    message = SAMPLES["delayed"]
    reason = message.payload["reason"]

    class Page(gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return "Das Paket verspätet sich." if message == reason else message

    def catalogs(domain: str, lang: str) -> gettext.NullTranslations:
        return Page() if domain == "page" else translations(domain, lang)

    monkeypatch.setattr(render, "translations", catalogs)
    email = render_email(message, sender=SENDER, links=LINKS, lang="de")
    assert "Das Paket verspätet sich." in email.text
    assert reason not in email.text
    assert "Das Paket verspätet sich." in render_sms(message, links=LINKS, lang="de")


def test_the_language_is_the_orders_then_the_brands_then_the_default() -> None:
    assert message_language(BRANDED, "fr-CA", "kaffeeberg") == "fr"
    assert message_language(BRANDED, None, "kaffeeberg") == "de"
    assert message_language(BRANDED, "ja", "kaffeeberg") == "de"  # not offered: the brand's
    assert message_language(BRANDED, None, "northwind") == "en"
    assert message_language(BRANDED, None, None) == "en"
    assert message_language(BRANDED, "es", None) == "es"
    assert message_language(BRANDED, "nl", "unknown-brand") == "nl"
    fewer = BRANDED.model_copy(
        update={"i18n": I18nSettings(default_locale="nl", locales=("nl", "de"))}
    )
    assert message_language(fewer, "fr", None) == "nl"  # fr not offered, no brand: the default
    assert message_language(fewer, "fr", "kaffeeberg") == "de"


def test_the_planned_message_carries_the_orders_brand_and_locale() -> None:
    timeline = dataclasses.replace(example(), brand="kaffeeberg")
    messages = plan(timeline).messages
    customer = [m for m in messages if m.channel in (NotifyChannel.EMAIL, NotifyChannel.SMS)]
    assert customer
    assert {m.payload["brand"] for m in customer} == {"kaffeeberg"}
    assert all("locale" in m.payload for m in customer)


def test_a_brands_message_has_its_sender_language_logo_colours_and_support() -> None:
    message = _with(SAMPLES["shipped"], brand="kaffeeberg", locale=None)
    renderer = TemplateRenderer(BRANDED.notify, BRANDED)
    email, headers = renderer.email(message)
    assert headers["From"] == KAFFEEBERG.sender
    assert headers["Content-Language"] == "de"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058
    assert headers["List-Unsubscribe"] == f"<{links_for(message, BRANDED.notify).unsubscribe_url}>"
    assert '<html lang="de">' in email.html
    assert 'src="https://wismo.example/static/brands/kaffeeberg.svg"' in email.html
    assert 'alt="Kaffeehaus Berg"' in email.html
    assert "background-color: #5b3a29" in email.html  # the button, in the brand's colour
    assert "#c8a165" in email.html
    assert "mailto:hilfe@kaffeeberg.example" in email.html
    assert "Kaffeehaus Berg" in email.text
    assert "hilfe@kaffeeberg.example" in email.text
    assert "Gute Nachrichten" in email.text
    links = links_for(message, BRANDED.notify)
    assert links.status_url.endswith("&brand=kaffeeberg")
    assert links.status_url in email.text
    sms = renderer.sms(message)
    assert sms.startswith("Bestellung 1001")
    assert links.status_url in sms
    assert sms_from_of(BRANDED, "kaffeeberg") == "+4930999"
    assert sender_of(BRANDED, "kaffeeberg") == KAFFEEBERG.sender


def test_the_order_locale_wins_over_the_brands_and_a_brand_without_a_sender_uses_notifys() -> None:
    message = _with(SAMPLES["shipped"], brand="northwind", locale="nl-NL")
    email, headers = TemplateRenderer(BRANDED.notify, BRANDED).email(message)
    assert headers["Content-Language"] == "nl"
    assert headers["From"] == BRANDED.notify.sender
    assert sms_from_of(BRANDED, "northwind") == BRANDED.notify.sms_from
    assert "Northwind Outfitters" in email.html
    assert '<p class="brand-name"' in email.html  # no logo: the name in the brand's colour
    assert "Goed nieuws" in email.text


def test_an_unbranded_message_keeps_the_plain_look() -> None:
    message = SAMPLES["shipped"]
    assert message.payload.get("brand") is None
    email, headers = TemplateRenderer(BRANDED.notify, BRANDED).email(message)
    assert headers["From"] == BRANDED.notify.sender
    assert headers["Content-Language"] == "en"
    assert 'class="brand' not in email.html
    assert "background-color: #1d4ed8" in email.html
    assert "brand=" not in links_for(message, BRANDED.notify).status_url
    plain = TemplateRenderer(SETTINGS).email(message)[0]
    assert plain.subject == email.subject


def test_a_brands_templates_win_over_notifys_which_win_over_the_packaged(tmp_path: Path) -> None:
    brand_dir, notify_dir = tmp_path / "brand", tmp_path / "notify"
    brand_dir.mkdir()
    notify_dir.mkdir()
    (brand_dir / "shipped.subject.txt").write_text("Berg: {{ order_number }}\n")
    (notify_dir / "shipped.subject.txt").write_text("Shop: {{ order_number }}\n")
    (notify_dir / "shipped.sms.txt").write_text("{{ _('Track it:') }} {{ links.status_url }}\n")
    brand = KAFFEEBERG.model_copy(update={"templates_dir": brand_dir})
    settings = Settings(
        notify=NotifySettings(templates_dir=notify_dir), brands={"kaffeeberg": brand}
    )
    renderer = TemplateRenderer(settings.notify, settings)
    branded = _with(SAMPLES["shipped"], brand="kaffeeberg")
    assert renderer.email(branded)[0].subject == "Berg: 1001"
    assert renderer.sms(branded).startswith("Sendung verfolgen: ")  # notify's, in German
    assert renderer.email(SAMPLES["shipped"])[0].subject == "Shop: 1001"
    assert "Gute Nachrichten" in renderer.email(branded)[0].text  # the rest packaged
    assert voice(settings, branded.payload).templates == (brand_dir, notify_dir)


@pytest.mark.parametrize("kind", sorted(set(SAMPLES) - {"delayed"}))  # delayed: the page's text
def test_a_german_message_has_no_short_english_word_either(kind: str) -> None:
    email = render_email(
        SAMPLES[kind], sender="Versand <versand@shop.example>", links=LINKS, lang="de"
    )
    sms = render_sms(SAMPLES[kind], links=LINKS, lang="de")
    for body in (email.subject, email.text, sms):
        words = set(re.findall(r"[A-Za-z]+", body.replace(LINKS.status_url, "")))
        english = {"your", "Your", "Order", "order", "Track", "Carrier", "Expected", "parcel"}
        assert not words & english, (kind, body)


def test_the_brands_time_zone_stands_in_for_an_order_without_one() -> None:
    berlin = BRANDED.model_copy(
        update={
            "brands": {"kaffeeberg": KAFFEEBERG.model_copy(update={"time_zone": "Europe/Berlin"})}
        }
    )
    assert with_brand_zone(berlin, Contacts(), "kaffeeberg").time_zone == "Europe/Berlin"
    own = Contacts(time_zone="Europe/Paris")
    assert with_brand_zone(berlin, own, "kaffeeberg").time_zone == "Europe/Paris"
    assert with_brand_zone(berlin, Contacts(), None).time_zone is None
    assert with_brand_zone(BRANDED, Contacts(), "kaffeeberg").time_zone is None  # it names none
