"""Brands: which brand an order belongs to, and what of a brand's configuration is public.

A retailer with several brands or markets lists them in ``settings.brands`` (docs/brands.md);
with none configured wismo is one unbranded shop and every brand id is ``None``. An order's brand
is, in this order of precedence: the ``brand`` its source sets; the brand whose webhook secret
signed the payload; the brand whose ``channels`` hold the order's ``sales_channel``.
"""

from __future__ import annotations

from typing import Any

from wismo.events import Event, EventKind
from wismo.settings import BrandSettings, Settings

#: The HTTP header the API adds to a raw record when a brand's webhook secret verified it (any
#: copy the sender sent is dropped at the edge); it travels on the raw topic as
#: ``http-x-wismo-signed-brand``, so a replay from raw finds the same signing brand.
SIGNED_BRAND_HEADER = "x-wismo-signed-brand"
#: the order events that carry an order's brand
BRANDED_KINDS = frozenset({EventKind.ORDER_PLACED, EventKind.ORDER_CHANGED})


def brand_config(settings: Settings, brand: str | None) -> BrandSettings | None:
    """The configuration of ``brand`` (None for no brand or one not configured)."""
    return settings.brands.get(brand) if brand else None


def brand_of_channel(settings: Settings, sales_channel: str | None) -> str | None:
    """The brand whose channels hold ``sales_channel`` (compared without case), if one does."""
    if not sales_channel:
        return None
    wanted = sales_channel.strip().lower()
    for brand, config in settings.brands.items():
        if any(channel.strip().lower() == wanted for channel in config.channels):
            return brand
    return None


def resolve_brand(
    settings: Settings,
    *,
    stated: str | None = None,
    signed_by: str | None = None,
    sales_channel: str | None = None,
) -> str | None:
    """An order's brand: stated by its source, else the signing brand, else by channel."""
    return stated or signed_by or brand_of_channel(settings, sales_channel)


def stamp_brand(settings: Settings, event: Event, signed_by: str | None = None) -> Event:
    """``event`` with its order's brand (:func:`resolve_brand`) when it is an order.placed or
    order.changed that states none; every other event, and one already stating a brand, as is."""
    if event.kind not in BRANDED_KINDS:
        return event
    payload = event.payload
    stated = getattr(payload, "brand", None)
    if stated:
        return event
    brand = resolve_brand(
        settings, signed_by=signed_by, sales_channel=getattr(payload, "sales_channel", None)
    )
    if brand is None:
        return event
    return event.model_copy(update={"payload": payload.model_copy(update={"brand": brand})})


def public_brand(settings: Settings, brand: str | None) -> dict[str, Any] | None:
    """What a customer's page may show of a brand: never its secrets or channels."""
    config = brand_config(settings, brand)
    if config is None:
        return None
    return {
        "id": brand,
        "name": config.name,
        "logo_url": config.logo_url,
        "primary_color": config.primary_color,
        "accent_color": config.accent_color,
        "support_email": config.support_email,
        "support_phone": config.support_phone,
        "support_url": config.support_url,
        "locale": config.locale,
    }


def return_window_days(settings: Settings, brand: str | None) -> float:
    """The days after delivery a line of this brand's orders may be returned."""
    config = brand_config(settings, brand)
    if config is not None and config.return_window_days is not None:
        return config.return_window_days
    return settings.selfservice.return_window_days


def brand_locale(settings: Settings, brand: str | None) -> str:
    """The language of a brand's page and messages when neither order nor reader names one."""
    config = brand_config(settings, brand)
    return config.locale if config is not None else settings.i18n.default_locale
