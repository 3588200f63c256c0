"""Signed with Standard Webhooks: see :mod:`carriers.standard_webhooks`."""

from carriers.standard_webhooks import verify

__all__ = ["verify"]
