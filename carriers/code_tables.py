"""The shape of a source's code tables (``carriers/<name>/codes.py``) and the look-up that
never drops an event for an unknown code."""

from __future__ import annotations

from collections.abc import Mapping

from carriers.base import Problem, ProblemCode
from wismo.vocab import Reason, TrackingStatus

CodeTable = Mapping[str, tuple[TrackingStatus, Reason | None]]
"""A source's declarative mapping: raw code → (status, reason or ``None``)."""
ReasonTable = Mapping[str, Reason | None]
"""For sources that give status and detail separately: detail code → reason (or ``None``)."""


def map_code(
    table: CodeTable,
    code: str | None,
    *,
    path: str,
    fallback: TrackingStatus = TrackingStatus.UNKNOWN,
) -> tuple[TrackingStatus, Reason | None, Problem | None]:
    """Look ``code`` up; an unknown code keeps ``fallback`` (the best status the source gave, or
    ``unknown``) and comes with an ``UNMAPPED_CODE`` problem so it is counted, never dropped."""
    if code is not None and code in table:
        status, reason = table[code]
        return status, reason, None
    return fallback, None, unmapped("code", code, fallback, path)


def unmapped(what: str, code: str | None, kept: TrackingStatus, path: str) -> Problem:
    """The ``UNMAPPED_CODE`` problem of a scan kept as ``kept`` because ``code`` (a ``what``) is
    in no table: counted and shown with its raw code, so the table can be extended."""
    shown = "(none)" if code is None else repr(code)
    message = f"no mapping for {what} {shown}; kept as {kept}"
    return Problem(ProblemCode.UNMAPPED_CODE, message, path, raw_code=code)
