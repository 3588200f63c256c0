"""Signed with Standard Webhooks: see :mod:`carriers.standard_webhooks`."""

from carriers.standard_webhooks import secret_problem, verify

__all__ = ["secret_problem", "verify"]
