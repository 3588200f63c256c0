"""Languages: the gettext catalogs under ``wismo/locales`` and choosing a reader's language.

Two catalog domains, each with its sources listed in ``wismo/locales/<domain>.cfg`` (Babel
extraction mapping):

- ``page``: the status page (its server-worded view, its own labels, the customer-facing
  reason texts that e-mails and SMS quote too);
- ``messages``: the e-mail and SMS templates.

``wismo/locales/<lang>/LC_MESSAGES/<domain>.po`` holds each language; English is the source
language (msgid = English text), so English needs no catalog. The ``.po`` files are compiled in
memory the first time a process needs them (no build step, no ``.mo`` in the tree);
``tests/test_catalogs.py`` checks that every message id of the sources is translated in every
language and that placeholders survive. ``make messages`` re-extracts and merges after a text
changes (see docs/brands.md, "Translating").
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Iterable
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).with_name("locales")
#: the source language of every catalog
SOURCE_LOCALE = "en"
#: the languages wismo ships catalogs for (settings.i18n.locales may offer fewer)
SHIPPED = ("en", "de", "fr", "es", "nl")
DOMAINS = ("page", "messages")
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")


def N_(message: str) -> str:
    """Marks a text for extraction where it is defined; translate it where it is shown."""
    return message


def language(tag: str | None) -> str | None:
    """The primary language of a BCP 47 / POSIX tag (``de-AT`` → ``de``), or None."""
    if not tag or not _TAG.match(tag.strip()):
        return None
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()


@functools.lru_cache(maxsize=1024)
def accept_language(header: str | None) -> tuple[str, ...]:
    """The languages of an ``Accept-Language`` header, most wanted first (q=0 dropped).

    Remembered per header value: a site's readers send few distinct ones, and every read of
    an order asks (the answer is a tuple, so no caller can change what is remembered)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        lang = language(tag) if tag.strip() != "*" else None
        if lang and quality > 0:
            ranked.append((-quality, position, lang))
    return tuple(lang for _, _, lang in sorted(ranked))


def negotiate(preferred: Iterable[str | None], offered: Iterable[str], default: str) -> str:
    """The first of ``preferred`` (tags, most wanted first) that is ``offered``, else
    ``default``."""
    available = [lang for lang in offered if lang in SHIPPED]
    for tag in preferred:
        lang = language(tag)
        if lang in available:
            return lang
    return default if default in available else SOURCE_LOCALE


@functools.lru_cache(maxsize=32)
def translations(domain: str, lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``domain`` in ``lang`` (English and unknown: the source texts)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown catalog domain {domain!r}")
    path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    if lang == SOURCE_LOCALE or lang not in SHIPPED or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@functools.lru_cache(maxsize=32)
def babel_locale(lang: str) -> Locale:
    """The Babel locale for formatting dates, times and amounts in ``lang``."""
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LOCALE)
