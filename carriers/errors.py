"""Errors of the carriers package.

Hierarchy::

    wismo.errors.WismoError
    └── CarrierError
        ├── UnknownSource      no source package is registered under that name
        └── TrackingApiError   a carrier's tracking API answered with an error or not at all

Parsing and verification never raise for bad *input*: they return :class:`carriers.base.Problem`
values. These exceptions are for programming and configuration mistakes, and for the outbound
tracking clients, whose failures are I/O rather than input.
"""

from __future__ import annotations

from wismo.errors import WismoError


class CarrierError(WismoError):
    """Base of the carriers package's own errors."""


class UnknownSource(CarrierError, KeyError):
    """No source package is registered under that name."""


class TrackingApiError(CarrierError):
    """A tracking API call failed: transport error, non-2xx status or a body that is not JSON."""

    def __init__(
        self, message: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        #: the answer's ``Retry-After`` in seconds (429, 503), when it gave one
        self.retry_after_s = retry_after_s
