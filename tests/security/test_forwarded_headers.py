"""The header allow-list is enough: every recorded sample of every source parses to the same
events from only the forwarded headers (what the normalise agent gets from the raw topic) as
from everything the sender sent — and no signature or credential header is on the list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.views.webhooks import FORWARDED_HEADERS
from carriers import registry
from tests.security.test_webhook_auth import _SIGNATURE_HEADERS, CASES, _request

SAMPLES = Path(__file__).parents[1] / "carriers"
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _samples(source: str) -> list[tuple[bytes, dict[str, str]]]:
    found = []
    for path in sorted((SAMPLES / source).glob("*.json")):
        if path.name.endswith(".headers.json"):
            continue
        recorded = path.with_suffix(".headers.json")
        headers = json.loads(recorded.read_text()) if recorded.exists() else {}
        found.append((path.read_bytes(), {k.lower(): v for k, v in headers.items()}))
    raw, signed = _request(source)  # the signed request of the webhook suite, too
    found.append((raw, {k.lower(): v for k, v in signed.items()}))
    return found


@pytest.mark.parametrize("source", sorted(registry.names()))
def test_parsers_need_only_the_forwarded_headers(source: str) -> None:
    parser = registry.get(source)
    samples = _samples(source)
    assert samples
    for raw, headers in samples:
        headers.setdefault("content-type", "application/json")
        forwarded = {k: v for k, v in headers.items() if k in FORWARDED_HEADERS}
        forwarded["content-type"] = headers["content-type"]  # travels as its own Kafka header
        full, kept = parser.parse(raw, headers, AT), parser.parse(raw, forwarded, AT)
        assert kept.events == full.events, source
        assert kept.delivery_id == full.delivery_id, source
        assert [str(p) for p in kept.problems] == [str(p) for p in full.problems], source


def test_no_secret_bearing_header_is_forwarded() -> None:
    secret_like = ("auth", "sign", "hmac", "token", "key", "secret", "credential", "cookie")
    assert not [h for h in FORWARDED_HEADERS if any(word in h for word in secret_like)]
    assert not FORWARDED_HEADERS & _SIGNATURE_HEADERS
    assert set(CASES) == set(registry.names())
