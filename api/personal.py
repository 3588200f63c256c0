"""Personal data in agent answers: who sees what (docs/security.md, "Personal data").

What wismo keeps that can identify or locate a person: the customer's e-mail address (in the
``order.placed`` / ``order.changed`` events; the timeline keeps only its SHA-256), postcodes
(the delivery destination and carrier scan locations), a scan's facility and free-text message
(a carrier may name whoever signed), payment ids, and free-text notes (returns, agents'
acknowledge/resolve notes). Customers and the public tracking view never see any of it.

Agents with the ``agent`` or ``supervisor`` role work cases with the customer and see the order
as stored. The ``viewer`` role sees the minimum: every such field is answered ``null``, and an
order's dead letters (raw payloads that cannot be filtered field by field) are refused.
"""

from __future__ import annotations

from typing import Any

from api.auth import ACT_ROLES

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
    }
)
#: ``message`` is personal in a carrier scan (it may name whoever signed), not in an exception
_SCAN_KINDS = frozenset({"tracking.checkpoint"})

SEES_PERSONAL_DATA = ACT_ROLES


def sees_personal_data(roles: frozenset[str]) -> bool:
    return bool(roles & SEES_PERSONAL_DATA)


def minimal(document: Any, *, scan: bool = False) -> Any:
    """``document`` (a timeline, event or list of them) with every personal field ``null``."""
    if isinstance(document, list):
        return [minimal(item, scan=scan) for item in document]
    if not isinstance(document, dict):
        return document
    is_scan = scan or document.get("kind") in _SCAN_KINDS
    shaped: dict[str, Any] = {}
    for key, value in document.items():
        if key in PERSONAL_FIELDS or (key == "message" and is_scan):
            shaped[key] = None
        elif key == "checkpoints":
            shaped[key] = minimal(value, scan=True)
        elif key == "payload":
            shaped[key] = minimal(value, scan=is_scan)
        else:
            shaped[key] = minimal(value)
    return shaped


def for_roles(document: Any, roles: frozenset[str]) -> Any:
    """What an agent holding ``roles`` may see of ``document``."""
    return document if sees_personal_data(roles) else minimal(document)
