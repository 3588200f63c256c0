"""Brands: which brand an order belongs to, and what of a brand's configuration is public.

A retailer with several brands or markets lists them in ``settings.brands`` (docs/brands.md);
with none configured wismo is one unbranded shop and every brand id is ``None``. An order's brand
is, in this order of precedence: the ``brand`` its source sets; the brand whose webhook secret
signed the payload; the brand whose ``channels`` hold the order's ``sales_channel``.
"""

from __future__ import annotations

from typing import Any

from wismo.settings import BrandSettings, Settings


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
