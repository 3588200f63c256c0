"""Errors of the projection stores.

Hierarchy::

    StoreError                 anything a store raises on purpose
    ├── StoreUnavailable       Redis or ClickHouse cannot be reached (the message names the URL)
    ├── StoreConflict          an order kept changing under a writer past the retry budget
    ├── UnlinkedEventError     an event with no order reached a call that needs one
    └── MigrationError         a schema migration failed (the message names the migration)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the errors the projection stores raise on purpose."""


class StoreUnavailable(StoreError):
    """A backing service could not be reached; ``url`` says which one (without its password)."""

    def __init__(self, what: str, url: str, reason: object) -> None:
        super().__init__(f"{what} unreachable at {url}: {reason}")
        self.what = what
        self.url = url


class StoreConflict(StoreError):
    """Concurrent writers kept moving an order's version; the batch can simply be retried."""


class UnlinkedEventError(StoreError):
    """An event without an ``order_id`` was given where only linked events are accepted."""


class MigrationError(StoreError):
    """A schema migration failed; nothing after it was applied."""
