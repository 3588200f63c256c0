"""Callouts from Salesforce are signed with Standard Webhooks (see
:mod:`carriers.standard_webhooks` and docs/integrations.md for the Apex that signs them):
``webhook-id``, ``webhook-timestamp`` (checked for freshness) and ``webhook-signature``, an
HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` under the shared secret (``whsec_<base64 key>``, or
``raw:<text>``)."""

from carriers.standard_webhooks import secret_problem, verify

__all__ = ["secret_problem", "verify"]
