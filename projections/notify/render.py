"""E-mail and SMS texts of customer messages, from Jinja2 templates, in the recipient's language.

One template set per milestone in ``projections/notify/templates/`` (``<milestone>.subject.txt``,
``<milestone>.txt``, ``<milestone>.html``, ``<milestone>.sms.txt``), the e-mail bodies extending a
shared layout (``base.html``, ``base.txt``) and the parcel details (``_parcel.html``,
``_parcel.txt``). A file of the same name in an override directory wins over the packaged one —
the brand's ``templates_dir``, then ``settings.notify.templates_dir`` — so a retailer can restyle
one message, or the layout, without copying the rest.

Every text is English gettext (``jinja2.ext.i18n``: ``{% trans %}`` blocks, ``_()``) translated
through the ``messages`` catalog of the message's language (:func:`wismo.i18n.translations`);
the reason and status texts quoted from the status page are the ``page`` catalog's. Dates, times
and amounts are formatted by Babel in the recipient's locale and time zone.

HTML is autoescaped (a carrier name or an item can hold markup) and its ``<style>`` block is
inlined into ``style`` attributes with ``css_inline``, since many mail clients drop ``<style>``.
Templates are read once per process: one environment per (override directories, language).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import css_inline
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from projections.notify.model import Message
from projections.notify.quiet_hours import zone_of
from projections.notify.unsubscribe import Links
from wismo.i18n import N_, SOURCE_LOCALE, babel_locale, translations

TEMPLATES = Path(__file__).with_name("templates")
SMS_LIMIT = 320
CARRIER_NAMES = {"ups": "UPS", "fedex": "FedEx", "dhl": "DHL", "usps": "USPS"}
#: how a message names what it is about: one parcel of a split order, or the whole order
WHICH_PARCEL = N_("parcel %(number)s of %(parcels)s of your order")
WHICH_ORDER = N_("your order")
_SPACE = re.compile(r"\s+")
_BLANKS = re.compile(r"\n{3,}")
_WEEKDAY = re.compile(r"E+")
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    lang: str = SOURCE_LOCALE


def _moment(context: Context, value: str | date | datetime) -> date | datetime:
    """A payload date or time (ISO text) in the recipient's zone."""
    parsed = value if not isinstance(value, str) else _parse(value)
    if isinstance(parsed, datetime):
        return parsed.astimezone(zone_of(context.get("time_zone")))
    return parsed


def _parse(value: str) -> date | datetime:
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)


def day_text(moment: date, lang: str) -> str:
    """A day as the recipient's language writes it: weekday, day and month (no year)."""
    locale = babel_locale(lang)
    skeleton = locale.datetime_skeletons.get("MMMMEd")
    pattern = _WEEKDAY.sub("EEEE", skeleton.pattern) if skeleton is not None else "full"
    return format_date(moment, pattern, locale=locale)


@pass_context
def _day(context: Context, value: str | date | datetime) -> str:
    return day_text(_moment(context, value), context.get("lang") or SOURCE_LOCALE)


@pass_context
def _clock(context: Context, value: str | datetime) -> str:
    moment = _moment(context, value)
    locale = babel_locale(context.get("lang") or SOURCE_LOCALE)
    return format_time(moment, "short", locale=locale) if isinstance(moment, datetime) else ""


def _carrier(name: str) -> str:
    return CARRIER_NAMES.get(name.lower(), name)


@pass_context
def _money(context: Context, amount: str, currency: str | None) -> str:
    locale = babel_locale(context.get("lang") or SOURCE_LOCALE)
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        return f"{amount} {currency}" if currency else str(amount)
    if currency:
        return format_currency(number, currency, locale=locale)
    return format_decimal(number, locale=locale)


@functools.lru_cache(maxsize=64)
def environment(templates: tuple[Path, ...] = (), lang: str = SOURCE_LOCALE) -> Environment:
    """The template environment of ``lang``: the override directories (first wins) over the
    packaged templates, with the ``messages`` catalog of ``lang`` installed."""
    loaders = [FileSystemLoader(str(directory)) for directory in templates]
    loaders.append(FileSystemLoader(str(TEMPLATES)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations("messages", lang), newstyle=True
    )
    env.filters |= {"day": _day, "clock": _clock, "carrier": _carrier, "money": _money}
    return env


def _directories(templates_dir: Path | Sequence[Path] | None) -> tuple[Path, ...]:
    if templates_dir is None:
        return ()
    if isinstance(templates_dir, Path):
        return (templates_dir,)
    return tuple(templates_dir)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _page_texts(payload: dict[str, Any], lang: str) -> dict[str, Any]:
    """The status page's texts a message quotes, in ``lang`` (the ``page`` catalog)."""
    page = translations("page", lang)
    words: dict[str, Any] = {}
    for name in ("reason", "status_text", "return_text"):
        if payload.get(name):
            words[name] = page.gettext(payload[name])
    parcel = payload.get("parcel")
    if isinstance(parcel, dict) and parcel.get("status_text"):
        words["parcel"] = parcel | {"status_text": page.gettext(parcel["status_text"])}
    return words


def _problem_text(payload: dict[str, Any], lang: str) -> str | None:
    """How the message speaks of the customer's reported problem (English: the msgid of
    :data:`~projections.notify.agent_messages.PROBLEM_WORDING`), in ``lang``."""
    wording = payload.get("problem_text")
    return translations("messages", lang).gettext(wording) if wording else None


def _context(
    message: Message,
    links: Links,
    sender: str = "",
    lang: str = SOURCE_LOCALE,
    look: dict[str, Any] | None = None,
) -> dict[str, Any]:
    payload = message.payload
    catalog = translations("messages", lang)
    parcels, number = payload.get("parcels") or 0, payload.get("parcel_number")
    split = parcels > 1 and number is not None and payload.get("parcel")
    which = (
        catalog.gettext(WHICH_PARCEL) % {"number": number, "parcels": parcels}
        if split
        else catalog.gettext(WHICH_ORDER)
    )
    name, address = parseaddr(sender)
    return (
        payload
        | _page_texts(payload, lang)
        | {
            "links": links,
            "which": which,
            "which_start": _capital(which),
            "problem_text": _problem_text(payload, lang),
            "sender_name": name or address or (look or {}).get("name", ""),
            "lang": lang,
            "brand": look,
        }
    )


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def render_email(
    message: Message,
    *,
    sender: str,
    links: Links,
    templates_dir: Path | Sequence[Path] | None = None,
    lang: str = SOURCE_LOCALE,
    look: dict[str, Any] | None = None,
) -> RenderedEmail:
    """Subject, plain text and HTML (CSS inlined) of a customer e-mail in ``lang``; ``look``:
    the brand's name, logo, colours and support contact (None: unbranded)."""
    env = environment(_directories(templates_dir), lang)
    context = _context(message, links, sender, lang, look)
    subject = _one_line(env.get_template(f"{message.kind}.subject.txt").render(context))
    context["subject"] = subject
    text = _BLANKS.sub("\n\n", env.get_template(f"{message.kind}.txt").render(context)).strip()
    html = _INLINER.inline(env.get_template(f"{message.kind}.html").render(context))
    return RenderedEmail(subject, text + "\n", html, lang)


def render_sms(
    message: Message,
    *,
    links: Links,
    templates_dir: Path | Sequence[Path] | None = None,
    lang: str = SOURCE_LOCALE,
    look: dict[str, Any] | None = None,
) -> str:
    """The text of a customer SMS in ``lang``, at most :data:`SMS_LIMIT` characters."""
    env = environment(_directories(templates_dir), lang)
    context = _context(message, links, lang=lang, look=look)
    text = _one_line(env.get_template(f"{message.kind}.sms.txt").render(context))
    if len(text) <= SMS_LIMIT:
        return text
    link = f" {links.status_url}"
    if text.endswith(link) and len(link) < SMS_LIMIT // 2:
        return text[: SMS_LIMIT - len(link) - 1].rstrip() + "…" + link
    return text[: SMS_LIMIT - 1].rstrip() + "…"
