"""Errors of the carriers package.

Hierarchy::

    wismo.errors.WismoError
    └── CarrierError
        └── UnknownSource      no source package is registered under that name

Parsing and verification never raise for bad *input*: they return :class:`carriers.base.Problem`
values. These exceptions are for programming and configuration mistakes only.
"""

from __future__ import annotations

from wismo.errors import WismoError


class CarrierError(WismoError):
    """Base of the carriers package's own errors."""


class UnknownSource(CarrierError, KeyError):
    """No source package is registered under that name."""
