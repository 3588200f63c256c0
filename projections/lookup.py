"""Customer lookup keys: an order number plus the e-mail (by hash) or a delivery postcode.

The store indexes every token a timeline offers and, on a lookup, checks the candidate order's
current timeline again, so a stale index entry can never hand out someone else's order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from projections.timeline_model import Timeline
from wismo.ids import email_hash


def normalise_order_number(order_number: str) -> str:
    return order_number.strip().lstrip("#").strip().upper()


def normalise_postcode(postcode: str) -> str:
    return "".join(postcode.split()).upper()


def lookup_key(order_number: str, token: str) -> str:
    """A fixed-length key: no personal data (e-mail, postcode) appears in index key names."""
    raw = f"{normalise_order_number(order_number)}\x1f{token}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def query_tokens(email: str | None, postcode: str | None) -> list[str]:
    tokens = []
    if email:
        tokens.append(f"email:{email_hash(email)}")
    if postcode and normalise_postcode(postcode):
        tokens.append(f"postcode:{normalise_postcode(postcode)}")
    return tokens


def _tokens(email_sha256: str | None, postcodes: Iterable[str | None]) -> list[str]:
    tokens = [f"email:{email_sha256}"] if email_sha256 else []
    found = {normalise_postcode(p) for p in postcodes if p}
    tokens += [f"postcode:{p}" for p in sorted(found) if p]
    return tokens


def timeline_tokens(timeline: Timeline) -> list[str]:
    places = [g.destination for g in timeline.delivery_groups]
    places += [s.destination for s in timeline.shipments]
    postcodes = [place.postal_code for place in places if place is not None]
    return _tokens(timeline.customer_email_sha256, postcodes)


def document_tokens(document: Mapping[str, Any]) -> list[str]:
    """The same tokens, from a timeline's JSON form."""
    places = [g.get("destination") for g in document.get("delivery_groups", ())]
    places += [s.get("destination") for s in document.get("shipments", ())]
    postcodes = [place.get("postal_code") for place in places if place]
    return _tokens(document.get("customer_email_sha256"), postcodes)


def document_matches(document: dict[str, Any], order_number: str, tokens: list[str]) -> bool:
    number = document.get("order_number")
    if not number or normalise_order_number(number) != normalise_order_number(order_number):
        return False
    return bool(set(tokens) & set(document_tokens(document)))
