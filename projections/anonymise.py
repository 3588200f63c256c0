"""What erasure removes from an event (pure): the personal fields of docs/security.md.

Personal data wismo keeps (docs/security.md, "Personal data"; docs/integrations.md for what each
source sends): the customer's e-mail, postcodes, a delivery group's masked address, a scan's
facility and message, a delivery's signed-by name and proof-of-delivery link, payment ids and
processor references, free-text notes, and the words and photos of customers' actions (a
problem's text and photo, the reasons of return and cancel requests) and of agents' (notes,
escalation reasons, message texts). Erasing an order drops every one of them from each of its
events (a required one, such as a problem's text, becomes :data:`REDACTED`); payment ids,
which identify a payment inside the order, become ``erased-payment-N`` (numbered in order of
appearance, so the fold still tells one payment from another). Any other
free-text field that mentions an erased value (an e-mail or phone number written into a note or a
scan message) is replaced with :data:`REDACTED`.

What the SLA KPIs read is kept: times, statuses, reason codes, carriers, services, amounts, cities,
regions and countries (docs/kpis.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REDACTED = "[erased]"
#: payload fields dropped wherever they appear (a place, a payment, a return, an agent's note)
DROPPED = frozenset(
    {
        "customer_email", "customer_phone", "postal_code", "facility", "note",
        "processor_reference", "signed_by", "proof_of_delivery_url", "address_masked",
    }
)  # fmt: skip
#: a carrier scan's ``message`` may name whoever signed; an exception's is the detector's own
_SCAN_DROPPED = frozenset({"message"})
_SCANS = frozenset({"tracking.checkpoint"})
#: by kind: people's own words and photos — dropped (optional) or redacted (required fields)
_DROPPED_BY_KIND: dict[str, frozenset[str]] = {
    "problem.reported": frozenset({"attachment"}),
    "return.requested": frozenset({"reason"}),  # the request's and each line's
    "cancel.requested": frozenset({"reason"}),
    "customer.messaged": frozenset({"text"}),
}
_REDACTED_BY_KIND: dict[str, frozenset[str]] = {
    "problem.reported": frozenset({"text"}),
    "note.added": frozenset({"text"}),
    "exception.escalated": frozenset({"reason"}),
}
#: free-text fields searched for an erased value (the others are ids, codes, times, amounts)
FREE_TEXT = frozenset(
    {
        "customer_email", "message", "note", "reason", "failure_reason", "processor_reference",
        "facility", "city", "region", "method", "service", "name", "sales_channel", "raw_code",
        "text",
    }
)  # fmt: skip
_NOT_DIGIT = re.compile(r"\D")
MIN_PHONE_DIGITS = 6


def phone_digits(phone: str) -> str:
    return _NOT_DIGIT.sub("", phone)


def phone_values(phone: str) -> list[str]:
    """The forms of a phone number looked for: as given, and its digits alone."""
    digits = phone_digits(phone)
    forms = [phone.strip()]
    if len(digits) >= MIN_PHONE_DIGITS:
        forms.append(digits)
    return list(dict.fromkeys(f for f in forms if f))


def _strings(value: Any, key: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _strings(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str):
        yield key, value


def _contains(text: str, values: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(v.casefold() in folded for v in values)


def mentions(document: Mapping[str, Any], values: Sequence[str]) -> bool:
    """Whether a free-text field of the event's payload holds one of ``values``."""
    payload = document.get("payload") or {}
    return any(key in FREE_TEXT and _contains(text, values) for key, text in _strings(payload))


def payment_stand_ins(documents: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Payment id → its stand-in, numbered in the order the documents name them."""
    found: dict[str, str] = {}
    for document in documents:
        payment = (document.get("payload") or {}).get("payment_id")
        if isinstance(payment, str) and payment not in found:
            found[payment] = f"erased-payment-{len(found) + 1}"
    return found


def _scrub(
    value: Any, key: str, values: Sequence[str], dropped: frozenset[str], redacted: frozenset[str]
) -> Any:
    if isinstance(value, Mapping):
        return {
            name: _scrub(item, name, values, dropped, redacted)
            for name, item in value.items()
            if name not in dropped
        }
    if isinstance(value, list):
        return [_scrub(item, key, values, dropped, redacted) for item in value]
    if isinstance(value, str) and (
        key in redacted or (key in FREE_TEXT and values and _contains(value, values))
    ):
        return REDACTED
    return value


def anonymise(
    document: Mapping[str, Any], values: Sequence[str], payments: Mapping[str, str]
) -> dict[str, Any]:
    """The event with its personal fields dropped, payment ids replaced and any free text
    mentioning one of ``values`` redacted (envelope fields are kept as they are)."""
    kind = str(document.get("kind"))
    dropped = DROPPED | (_SCAN_DROPPED if kind in _SCANS else frozenset())
    dropped |= _DROPPED_BY_KIND.get(kind, frozenset())
    redacted = _REDACTED_BY_KIND.get(kind, frozenset())
    shaped = dict(document)
    payload = _scrub(document.get("payload") or {}, "", values, dropped, redacted)
    payment = payload.get("payment_id")
    if isinstance(payment, str):
        payload["payment_id"] = payments.get(payment, payment)
    shaped["payload"] = payload
    return shaped
