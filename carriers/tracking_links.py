"""A carrier's own public tracking page for a tracking number (pure).

The carrier is wismo's slug (``ups``, ``fedex``, ``usps``, ``dhl``), an AfterShip slug
(``dhl-germany``, ``royal-mail``…) or an EasyPost carrier name (``DHLExpress``…): all are
folded to one key first. A carrier without a known page gives ``None``: the status page then
shows the number without a link.
"""

from __future__ import annotations

import re
from urllib.parse import quote

#: key → page, ``{number}`` replaced by the URL-quoted tracking number
PAGES: dict[str, str] = {
    "ups": "https://www.ups.com/track?tracknum={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
    "dhl_germany": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={number}",
    "dhl_ecommerce": "https://webtrack.dhlecs.com/?trackingnumber={number}",
    "royal_mail": "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    "canada_post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "gls": "https://gls-group.com/track/{number}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{number}",
    "hermes": "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#{number}",
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "australia_post": "https://auspost.com.au/mypost/track/details/{number}",
    "ontrac": "https://www.ontrac.com/tracking/?number={number}",
}
#: other names of the carriers above: AfterShip slugs and EasyPost carrier names, folded
ALIASES: dict[str, str] = {
    "upsdap": "ups",
    "upsmailinnovations": "ups",
    "fedexdefault": "fedex",
    "fedexsmartpost": "fedex",
    "fedex_ground": "fedex",
    "dhlexpress": "dhl",
    "dhl_express": "dhl",
    "dhl_global_mail": "dhl_ecommerce",
    "dhlecommerce": "dhl_ecommerce",
    "dhl_ecommerce_us": "dhl_ecommerce",
    "deutsche_post_dhl": "dhl_germany",
    "dhl_parcel": "dhl_germany",
    "royalmail": "royal_mail",
    "canadapost": "canada_post",
    "dpd_de": "dpd",
    "dpddeutschland": "dpd",
    "gls_de": "gls",
    "postnl_3s": "postnl",
    "postnl_international": "postnl",
    "hermes_de": "hermes",
    "la_poste_colissimo": "colissimo",
    "australiapost": "australia_post",
}
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def carrier_key(carrier: str) -> str:
    """A carrier name folded to a key: lower case, runs of other characters one ``_``."""
    return _NOT_KEY.sub("_", carrier.lower()).strip("_")


def tracking_url(carrier: str | None, tracking_number: str) -> str | None:
    """The carrier's public tracking page for ``tracking_number`` (quoted so it stays one
    query value or path segment), or ``None`` for an unknown carrier or an empty number."""
    number = tracking_number.strip()
    if carrier is None or not number:
        return None
    key = carrier_key(carrier)
    page = PAGES.get(ALIASES.get(key, key))
    return None if page is None else page.format(number=quote(number, safe=""))
