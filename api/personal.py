"""Personal data in agent answers: who sees what (docs/security.md, "Personal data").

What wismo keeps that can identify or locate a person: the customer's e-mail address (in the
``order.placed`` / ``order.changed`` events; the timeline keeps only its SHA-256), postcodes
(the delivery destination and carrier scan locations), a scan's facility and free-text message
(a carrier may name whoever signed), payment ids, free-text notes (returns, agents'
acknowledge/resolve notes), and what people write or send themselves: a customer's problem
report (its text — an exception's ``message`` when the customer reported it — and photo), the
reasons of return and cancel requests, agents' notes, escalation reasons and message texts.
Customers and the public tracking view never see any of it.

Agents with the ``agent`` or ``supervisor`` role work cases with the customer and see the order
as stored. The ``viewer`` role sees the minimum: every such field is answered ``null``, and an
order's dead letters (raw payloads that cannot be filtered field by field) are refused.
"""

from __future__ import annotations

from typing import Any

from api.auth import ACT_ROLES
from wismo.vocab import ExceptionType

#: fields that hold personal data wherever they appear in a timeline, an event or a parked scan
PERSONAL_FIELDS = frozenset(
    {
        "customer_email",
        "customer_email_sha256",
        "customer_phone",
        "postal_code",
        "facility",
        "payment_id",
        "note",
        "text",
        "attachment",
        "escalation_reason",
        "line_reasons",
        # proof of delivery and the (masked) delivery address
        "signed_by",
        "proof_of_delivery_url",
        "address_masked",
    }
)
#: ``message`` is personal in a carrier scan (it may name whoever signed), not in an exception
_SCAN_KINDS = frozenset({"tracking.checkpoint"})
#: ``reason`` is someone's own words in these events' payloads (else a reason code)...
_OWN_WORDS_KINDS = frozenset(
    {"return.requested", "cancel.requested", "cancel.confirmed", "cancel.rejected"}
    | {"exception.escalated"}
)
#: ...and in these timeline lists
_OWN_WORDS_LISTS = frozenset({"returns", "cancel_requests"})

SEES_PERSONAL_DATA = ACT_ROLES


def sees_personal_data(roles: frozenset[str]) -> bool:
    return bool(roles & SEES_PERSONAL_DATA)


def minimal(document: Any, *, scan: bool = False, words: bool = False) -> Any:
    """``document`` (a timeline, event, queue row or list of them) with every personal field
    ``null``; ``words``: its ``reason`` is someone's own words."""
    if isinstance(document, list):
        return [minimal(item, scan=scan, words=words) for item in document]
    if not isinstance(document, dict):
        return document
    is_scan = scan or document.get("kind") in _SCAN_KINDS
    own_words = document.get("kind") in _OWN_WORDS_KINDS
    shaped: dict[str, Any] = {}
    for key, value in document.items():
        if (
            key in PERSONAL_FIELDS
            or (key == "message" and (is_scan or _customer_reported(document)))
            or (key == "reason" and words)
        ):
            shaped[key] = None
        elif key == "checkpoints":
            shaped[key] = minimal(value, scan=True)
        elif key == "payload":
            shaped[key] = minimal(value, scan=is_scan, words=own_words)
        else:
            shaped[key] = minimal(value, words=words or key in _OWN_WORDS_LISTS)
    return shaped


def _customer_reported(document: dict[str, Any]) -> bool:
    """An exception (view or queue row) a customer opened: its ``message`` is their words."""
    return document.get("reported_by_customer") is True or document.get("type") == (
        ExceptionType.CUSTOMER_REPORTED.value
    )


def for_roles(document: Any, roles: frozenset[str]) -> Any:
    """What an agent holding ``roles`` may see of ``document``."""
    return document if sees_personal_data(roles) else minimal(document)
