"""Errors of the streams package.

Hierarchy::

    wismo.errors.WismoError
    └── StreamsError
        └── UnknownRole         a role name that ``wismo run --roles`` does not know

Bad *messages* never raise out of an agent: they become dead-letter records.
"""

from __future__ import annotations

from wismo.errors import WismoError


class StreamsError(WismoError):
    """Base of the streams package's own errors."""


class UnknownRole(StreamsError, ValueError):
    """A role name that is not one of :data:`cli.runtime.roles.ROLE_NAMES`."""
