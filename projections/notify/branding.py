"""Whose voice a customer message speaks in: its language and its brand's look and sender.

The language is the order's locale (its contacts), else the brand's, else
``settings.i18n.default_locale``, negotiated against ``settings.i18n.locales``. A message of a
configured brand is sent from the brand's ``sender`` / ``sms_from``, rendered from the brand's
``templates_dir`` first, then ``notify.templates_dir``, then the packaged templates, and its
layout shows the brand's name, logo, colours and support contact; the brand's time zone stands
in for an order that names none. An unbranded message (no brand, or one not configured) keeps
the plain look and the ``notify`` sender.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from projections.notify.model import Contacts
from wismo.brands import brand_config, brand_locale, public_brand
from wismo.i18n import negotiate
from wismo.settings import NotifySettings, Settings


@dataclass(frozen=True, slots=True)
class Voice:
    """How one message is rendered and sent: ``look`` is None for an unbranded message."""

    lang: str
    sender: str
    sms_from: str
    templates: tuple[Path, ...]
    look: dict[str, Any] | None = None


def message_language(settings: Settings, locale: str | None, brand: str | None) -> str:
    """The order's locale, else the brand's, else the default — among the offered languages."""
    return negotiate(
        [locale, brand_locale(settings, brand)], settings.i18n.locales, settings.i18n.default_locale
    )


def absolute_url(public_url: str, url: str | None) -> str | None:
    """``url`` as a link a mail client can follow: a ``/path`` joined to ``public_url``."""
    if not url:
        return None
    if url.startswith("/") and not url.startswith("//"):
        return public_url.rstrip("/") + url
    return url


def brand_look(settings: Settings, brand: str | None) -> dict[str, Any] | None:
    """What the layout shows of a configured brand (None: unbranded): the page's public brand
    block, its logo as a link a mail client can follow."""
    block = public_brand(settings, brand)
    if block is None:
        return None
    return block | {"logo_url": absolute_url(settings.notify.public_url, block["logo_url"])}


def sender_of(settings: Settings, brand: str | None) -> str:
    """The e-mail ``From`` of a brand's messages (``notify.sender`` when it names none)."""
    config = brand_config(settings, brand)
    return (config.sender if config is not None else None) or settings.notify.sender


def sms_from_of(settings: Settings, brand: str | None) -> str:
    """The SMS sender number of a brand's messages (``notify.sms_from`` when it names none)."""
    config = brand_config(settings, brand)
    return (config.sms_from if config is not None else None) or settings.notify.sms_from


def notify_settings_of(settings: Settings, brand: str | None) -> NotifySettings:
    """The message settings an order of ``brand`` is planned with: ``notify``, with the brand's
    own choice of warning customers of a parcel trending late when it makes one."""
    config = brand_config(settings, brand)
    if config is None or config.warn_trending_late is None:
        return settings.notify
    return settings.notify.model_copy(update={"warn_trending_late": config.warn_trending_late})


def with_brand_zone(settings: Settings, contacts: Contacts, brand: str | None) -> Contacts:
    """``contacts`` with the brand's time zone when the order names none (quiet hours, dates)."""
    config = brand_config(settings, brand)
    if contacts.time_zone or config is None or not config.time_zone:
        return contacts
    return replace(contacts, time_zone=config.time_zone)


def voice(settings: Settings, payload: dict[str, Any]) -> Voice:
    """The language, sender, template directories and look of a message with ``payload``."""
    brand = payload.get("brand")
    notify = settings.notify
    config = brand_config(settings, brand)
    dirs = [config.templates_dir] if config is not None and config.templates_dir else []
    dirs += [notify.templates_dir] if notify.templates_dir is not None else []
    return Voice(
        lang=message_language(settings, payload.get("locale"), brand),
        sender=sender_of(settings, brand),
        sms_from=sms_from_of(settings, brand),
        templates=tuple(dirs),
        look=brand_look(settings, brand),
    )
