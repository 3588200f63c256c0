"""What ``wismo up`` prints for each webhook source: its URL and how a sender signs for it.

One line per source the registry knows (``carriers.registry.names()``); a source added to the
registry without a line here is caught by ``tests/e2e/test_up.py``.
"""

from __future__ import annotations

from carriers.registry import names

_STANDARD_WEBHOOKS = (
    "Standard Webhooks: webhook-id, webhook-timestamp (unix s) and webhook-signature = "
    '"v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed by the base64 after whsec_ '
    "(the official standardwebhooks libraries sign this way)"
)

#: source -> how its sender authenticates a POST (the headers the source's ``verify`` checks)
SIGNING: dict[str, str] = {
    "ups": "header credential: the secret itself (UPS Track Alert does not sign the body)",
    "fedex": "header fdx-signature: hex HMAC-SHA256 of the body",
    "usps": "header X-HMAC: base64 HMAC-SHA256 of the body",
    "dhl": "header dhl-push-token: the secret itself (DHL push does not sign the body)",
    "aftership": "header aftership-hmac-sha256: base64 HMAC-SHA256 of the body",
    "easypost": "header X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256 of the body, "
    "NFKD-normalised secret>",
    "shopify": "header X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the body",
    "salesforce_om": _STANDARD_WEBHOOKS,
    "oms": _STANDARD_WEBHOOKS,
    "wms": _STANDARD_WEBHOOKS,
}


def webhook_url(base: str, source: str) -> str:
    return f"{base}/v1/webhooks/{source}"


def guide_lines(base: str, secret_hint: str) -> list[str]:
    """``source  URL`` and, indented, how to sign, for every registered source."""
    lines = [f"webhooks (secret: {secret_hint}):"]
    for source in names():
        lines.append(f"  {source:<14}{webhook_url(base, source)}")
        lines.append(f"  {'':<14}{SIGNING.get(source, 'see docs/integrations.md')}")
    return lines
