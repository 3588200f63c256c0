"""Errors of the shared language, and how validation failures are described to people.

Hierarchy::

    WismoError                 anything wismo raises on purpose
    ├── InvalidInput           input that does not match a contract (message names the field)
    └── ServiceStartError      an embedded service (broker, Redis) did not become ready
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError

from wismo.events import EventKind

_KIND_TAGS = frozenset(kind.value for kind in EventKind)


class WismoError(Exception):
    """Base of the errors wismo raises on purpose."""


class InvalidInput(WismoError):
    """Input that does not match a contract; the message names the offending field."""


class ServiceStartError(WismoError):
    """An embedded service did not start or did not become ready in time."""


def describe_validation_error(error: ValidationError | orjson.JSONDecodeError | ValueError) -> str:
    """A one-line, human reason: ``payload.location.country: String should match …``.

    Union tags (the event kind) are left out of the field path; several problems are joined
    with ``; ``.
    """
    if isinstance(error, orjson.JSONDecodeError):
        return f"invalid JSON: {error}"
    if not isinstance(error, ValidationError):
        return str(error)
    problems = []
    for item in error.errors(include_url=False):
        if item["type"] == "json_invalid":
            problems.append(f"invalid JSON: {item['ctx'].get('error', item['msg'])}")
            continue
        path = [str(part) for part in item["loc"] if str(part) not in _KIND_TAGS]
        field = ".".join(path) or "(event)"
        problems.append(f"{field}: {item['msg']}")
    return "; ".join(problems)
