"""E-mail and SMS texts of customer messages, from Jinja2 templates.

One template set per milestone in ``projections/notify/templates/`` (``<milestone>.subject.txt``,
``<milestone>.txt``, ``<milestone>.html``, ``<milestone>.sms.txt``), the e-mail bodies extending a
shared layout (``base.html``, ``base.txt``) and the parcel details (``_parcel.html``,
``_parcel.txt``). A file of the same name in ``settings.notify.templates_dir`` wins over the
packaged one, so a retailer can restyle one message, or the layout, without copying the rest.

HTML is autoescaped (a carrier name or an item can hold markup) and its ``<style>`` block is
inlined into ``style`` attributes with ``css_inline``, since many mail clients drop ``<style>``.
Templates are read once per process: the environment is cached per override directory.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from projections.notify.model import Message
from projections.notify.quiet_hours import zone_of
from projections.notify.unsubscribe import Links

TEMPLATES = Path(__file__).with_name("templates")
SMS_LIMIT = 320
CARRIER_NAMES = {"ups": "UPS", "fedex": "FedEx", "dhl": "DHL", "usps": "USPS"}
_SPACE = re.compile(r"\s+")
_BLANKS = re.compile(r"\n{3,}")
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _moment(context: Context, value: str | date | datetime) -> date | datetime:
    """A payload date or time (ISO text) in the recipient's zone."""
    parsed = value if not isinstance(value, str) else _parse(value)
    if isinstance(parsed, datetime):
        return parsed.astimezone(zone_of(context.get("time_zone")))
    return parsed


def _parse(value: str) -> date | datetime:
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)


@pass_context
def _day(context: Context, value: str | date | datetime) -> str:
    moment = _moment(context, value)
    return f"{moment:%A} {moment.day} {moment:%B}"


@pass_context
def _clock(context: Context, value: str | datetime) -> str:
    return f"{_moment(context, value):%H:%M}"


def _carrier(name: str) -> str:
    return CARRIER_NAMES.get(name.lower(), name)


def _money(amount: str, currency: str | None) -> str:
    return f"{amount} {currency}" if currency else amount


@functools.lru_cache(maxsize=8)
def environment(override: Path | None = None) -> Environment:
    """The template environment (packaged templates under an optional override directory)."""
    loaders = [FileSystemLoader(str(override))] if override is not None else []
    loaders.append(FileSystemLoader(str(TEMPLATES)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters |= {"day": _day, "clock": _clock, "carrier": _carrier, "money": _money}
    return env


def _context(message: Message, links: Links, sender: str = "") -> dict[str, Any]:
    payload = message.payload
    parcels, number = payload.get("parcels") or 0, payload.get("parcel_number")
    split = parcels > 1 and number is not None and payload.get("parcel")
    which = f"parcel {number} of {parcels} of your order" if split else "your order"
    name, address = parseaddr(sender)
    return payload | {
        "links": links,
        "which": which,
        "sender_name": name or address,
    }


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def render_email(
    message: Message, *, sender: str, links: Links, templates_dir: Path | None = None
) -> RenderedEmail:
    """Subject, plain text and HTML (CSS inlined) of a customer e-mail."""
    env = environment(templates_dir)
    context = _context(message, links, sender)
    subject = _one_line(env.get_template(f"{message.kind}.subject.txt").render(context))
    context["subject"] = subject
    text = _BLANKS.sub("\n\n", env.get_template(f"{message.kind}.txt").render(context)).strip()
    html = _INLINER.inline(env.get_template(f"{message.kind}.html").render(context))
    return RenderedEmail(subject, text + "\n", html)


def render_sms(message: Message, *, links: Links, templates_dir: Path | None = None) -> str:
    """The text of a customer SMS, at most :data:`SMS_LIMIT` characters."""
    env = environment(templates_dir)
    text = _one_line(env.get_template(f"{message.kind}.sms.txt").render(_context(message, links)))
    if len(text) <= SMS_LIMIT:
        return text
    link = f" {links.status_url}"
    if text.endswith(link) and len(link) < SMS_LIMIT // 2:
        return text[: SMS_LIMIT - len(link) - 1].rstrip() + "…" + link
    return text[: SMS_LIMIT - 1].rstrip() + "…"
