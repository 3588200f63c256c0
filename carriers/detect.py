"""Which carrier a tracking number belongs to, from its format and check digit.

Used when a payload does not name its carrier. Formats:

* UPS: ``1Z`` + 16 characters, the last a mod-10 check digit over the 15 before it (letters
  count as ``(ord - ord("A") + 2) % 10``).
* FedEx: 12 digits (Express, weighted mod 11), 15 digits (Ground, mod 10), 20 digits starting
  ``00`` (an SSCC, mod 10), 22 digits starting ``96`` (Ground 96, check over the last 15).
* USPS: 20-digit numbers and IMpb barcodes (``91`` to ``95`` + 20 or 24 digits, optionally prefixed
  by ``420`` + ZIP), all mod 10; UPU S10 numbers ending in ``US`` (``EA123456785US``, weighted
  mod 11).
* DHL Express: 10 digits, the last the first nine mod 7; DHL eCommerce/Parcel ``JJD`` numbers.

A number that matches no format, or fails its check digit, is ``None``: guessing a carrier from
a mistyped number would link a scan to the wrong parcel.
"""

from __future__ import annotations

import re
from collections.abc import Callable

UPS = "ups"
FEDEX = "fedex"
USPS = "usps"
DHL = "dhl"

_UPS = re.compile(r"^1Z[0-9A-Z]{16}$")
_S10 = re.compile(r"^[A-Z]{2}\d{9}US$")
_JJD = re.compile(r"^JJD\d{10,24}$")
_IMPB = re.compile(r"^9[1-5](\d{20}|\d{24})$")
_IMPB_ZIP_PREFIX = re.compile(r"^420(?:\d{5}|\d{9})(9[1-5](?:\d{20}|\d{24}))$")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def _mod10(digits: str) -> bool:
    """GS1 / USS-128 mod 10: from the right (check digit excluded), weights 3, 1, 3, 1…"""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _ups_valid(number: str) -> bool:
    values = [int(c) if c.isdigit() else (ord(c) - ord("A") + 2) % 10 for c in number[2:]]
    body, check = values[:-1], values[-1]
    total = sum(v * (2 if i % 2 == 1 else 1) for i, v in enumerate(body))
    return (10 - total % 10) % 10 == check


def _fedex_express_valid(number: str) -> bool:
    weights = (1, 3, 7)
    body, check = number[:-1], int(number[-1])
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(body)))
    return total % 11 % 10 == check


def _s10_valid(number: str) -> bool:
    serial, check = number[2:10], int(number[10])
    remainder = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    expected = {10: 0, 11: 5}.get(remainder, remainder)
    return expected == check


def _dhl_express_valid(number: str) -> bool:
    return int(number[:9]) % 7 == int(number[9])


def _digits_rule(number: str) -> str | None:
    length = len(number)
    if length == 10:
        return DHL if _dhl_express_valid(number) else None
    if length == 12:
        return FEDEX if _fedex_express_valid(number) else None
    if length == 15:
        return FEDEX if _mod10(number) else None
    if length == 22 and number.startswith("96"):
        return FEDEX if _mod10(number[-15:]) else None
    if length == 20 and number.startswith("00"):
        return FEDEX if _mod10(number[2:]) else None
    if length == 20 or _IMPB.match(number):
        return USPS if _mod10(number) else None
    match = _IMPB_ZIP_PREFIX.match(number)
    if match is not None:
        return USPS if _mod10(match[1]) else None
    return None


_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[str], bool], str], ...] = (
    (_UPS, _ups_valid, UPS),
    (_S10, _s10_valid, USPS),
    (_JJD, lambda _number: True, DHL),  # JJD numbers define no check digit
)


def normalise(tracking_number: str) -> str:
    return "".join(tracking_number.split()).upper()


def detect_carrier(tracking_number: str) -> str | None:
    """``"ups"``, ``"fedex"``, ``"usps"``, ``"dhl"`` or ``None`` when the format is unknown."""
    number = normalise(tracking_number)
    if number.isdigit() and number.isascii():
        return _digits_rule(number)
    for pattern, valid, carrier in _PATTERNS:
        if pattern.match(number):
            return carrier if valid(number) else None
    return None


#: Carrier names as commerce systems write them (Shopify ``tracking_company``, Salesforce
#: ``Provider``) → our carrier slugs. A company not listed becomes its own slug
#: (``"Royal Mail"`` → ``royal_mail``).
CARRIERS: dict[str, str] = {
    "ups": "ups",
    "fedex": "fedex",
    "fedex ground": "fedex",
    "usps": "usps",
    "dhl": "dhl",
    "dhl express": "dhl",
    "dhl ecommerce": "dhl",
    "dhl ecommerce asia": "dhl",
    "dhl parcel": "dhl",
    "deutsche post (dhl)": "dhl",
}
#: Names that say nothing about the carrier: the tracking number's format decides instead.
UNNAMED_CARRIERS = frozenset({"other", "custom", "manual", ""})

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def carrier_slug(company: str | None) -> str | None:
    """Our slug for a carrier name; ``None`` when it names no carrier."""
    if company is None:
        return None
    key = " ".join(company.lower().split())
    if key in UNNAMED_CARRIERS:
        return None
    return CARRIERS.get(key) or (_NOT_SLUG.sub("_", key).strip("_")[:64] or None)
