"""The status page's view of an order for one reader: in their language, with the order's brand.

The reader's language (docs/languages.md): their explicit choice (``?lang=``, the page's switcher)
> the order's locale > the browser's ``Accept-Language`` > the brand's locale > the default,
restricted to ``settings.i18n.locales``.
"""

from __future__ import annotations

from typing import Any

from carriers.tracking_links import tracking_url
from projections.customer_order import customer_order, public_parcel
from projections.timeline_model import Timeline
from wismo.brands import brand_locale, public_brand, return_window_days
from wismo.i18n import accept_language, language, negotiate
from wismo.settings import Settings


def offered(settings: Settings) -> list[str]:
    """The languages this installation's page speaks."""
    return list(settings.i18n.locales)


def preference(settings: Settings, explicit: str | None, accept: str | None) -> str:
    """What of a request decides its language besides the order: a cache key."""
    languages = offered(settings)
    chosen = language(explicit)
    wanted = [lang for lang in accept_language(accept) if lang in languages][:5]
    return f"{chosen if chosen in languages else ''}|{','.join(wanted)}"


def reader_language(
    settings: Settings, timeline: Timeline, explicit: str | None, accept: str | None
) -> str:
    """The language to word ``timeline`` in for this reader."""
    wanted = [explicit, timeline.locale, *accept_language(accept)]
    wanted.append(brand_locale(settings, timeline.brand))
    return negotiate(wanted, offered(settings), settings.i18n.default_locale)


def _with_carrier_links(parcel: dict[str, Any]) -> dict[str, Any]:
    if not parcel.get("tracking_url") and parcel.get("carrier") and parcel.get("tracking_number"):
        parcel["tracking_url"] = tracking_url(parcel["carrier"], parcel["tracking_number"])
    return parcel


def customer_view(settings: Settings, timeline: Timeline, lang: str) -> dict[str, Any]:
    """The ``CustomerOrder`` document in ``lang``, with the order's brand and return window."""
    view = customer_order(
        timeline,
        return_window_days=return_window_days(settings, timeline.brand),
        lang=lang,
        brand=public_brand(settings, timeline.brand),
    )
    for parcel in view["shipments"]:
        _with_carrier_links(parcel)
    return view


def parcel_view(timeline: Timeline, number: str, lang: str) -> dict[str, Any] | None:
    """The public ``Shipment`` document of one parcel in ``lang``."""
    parcel = public_parcel(timeline, number, lang)
    return _with_carrier_links(parcel) if parcel is not None else None
