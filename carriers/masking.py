"""A shipping address as one partly masked line for the status page (pure).

``J. D•••, 12•• Ma••• St, 10115 Berlin, DE``: the first name's initial and the surname's first
letter; in the street line every number keeps its first half and every word of four letters or
more its first two (the longest word always masked); a second address line and a company are
left out; postcode, city and country are kept. The parsers mask what a source sends, so the full
name and street never enter a canonical event.
"""

from __future__ import annotations

from carriers.countries import alpha2
from carriers.values import text

DOT = "•"
MASK = DOT * 3
MAX_LENGTH = 300
_CITY = 80
_POSTCODE = 16
_SHORT_WORD = 3


def _letters(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum())


def masked_name(first: str | None, last: str | None) -> str | None:
    """``J. D•••``; ``D•••`` or ``J.`` when only one part is known."""
    initial = _letters(first or "")[:1]
    surname = _letters(last or "")[:1]
    parts = [
        f"{initial.upper()}." if initial else "",
        f"{surname.upper()}{MASK}" if surname else "",
    ]
    return " ".join(p for p in parts if p) or None


def split_name(full: str | None) -> tuple[str | None, str | None]:
    """A full name as (first, last): its first and last words (one word is a surname)."""
    words = (full or "").split()
    if not words:
        return None, None
    if len(words) == 1:
        return None, words[0]
    return words[0], words[-1]


def _masked_token(token: str, longest: bool) -> str:
    if any(ch.isdigit() for ch in token):
        return token[: len(token) // 2] + DOT * 2
    if len(token) > _SHORT_WORD or longest:
        return token[: min(2, len(token) - 1)] + MASK
    return token


def masked_street(street: str | None) -> str | None:
    """The street line with its numbers and longer words partly hidden (``12•• Ma••• St``)."""
    tokens = (street or "").split()
    if not tokens:
        return None
    longest = max(range(len(tokens)), key=lambda i: len(tokens[i]))
    return " ".join(_masked_token(t, i == longest) for i, t in enumerate(tokens))


def masked_address(
    *,
    first_name: object = None,
    last_name: object = None,
    name: object = None,
    street: object = None,
    postal_code: object = None,
    city: object = None,
    country: object = None,
) -> str | None:
    """The masked line from whatever a source gave (``name`` when first and last are not
    given separately); ``None`` when nothing is left to show."""
    first, last = text(first_name, 200), text(last_name, 200)
    if first is None and last is None:
        first, last = split_name(text(name, 400))
    town = " ".join(p for p in (text(postal_code, _POSTCODE), text(city, _CITY)) if p)
    code = text(country)
    parts = (
        masked_name(first, last),
        masked_street(text(street, 400)),
        town or None,
        alpha2(code) or (code[:_CITY] if code else None),
    )
    line = ", ".join(p for p in parts if p)
    return line[:MAX_LENGTH] or None
