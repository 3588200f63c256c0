"""The API refuses to start with a webhook secret that is not in its source's format, naming the
setting (never the secret); well-formed secrets, the development one included, start."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from api.app import create_app
from api.webhook_secrets import WebhookSecretError, secret_problems
from carriers.registry import names
from wismo.settings import DEV_SECRET, Settings

GOOD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MALFORMED = "plain-text-oms-secret"


def _settings(secrets: dict[str, tuple[str, ...]]) -> Settings:
    return Settings(webhook_secrets={k: tuple(SecretStr(s) for s in v) for k, v in secrets.items()})


def test_a_malformed_standard_webhooks_secret_stops_the_start_naming_the_setting() -> None:
    settings = _settings({"oms": (GOOD, MALFORMED), "ups": ("any-ups-credential",)})
    with pytest.raises(WebhookSecretError) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "webhook_secrets.oms[1] (WISMO_WEBHOOK_SECRETS)" in message
    assert "does not start with 'whsec_'" in message
    assert MALFORMED not in message
    assert "webhook_secrets.oms[0]" not in message
    assert "ups" not in message


def test_every_source_starts_with_the_development_secret() -> None:
    settings = _settings(dict.fromkeys(names(), (DEV_SECRET,)))
    assert secret_problems(settings) == []
    create_app(settings)


def test_a_raw_secret_configured_as_such_starts() -> None:
    assert (
        secret_problems(_settings({"wms": ("raw:partner-string",), "salesforce_om": (GOOD,)})) == []
    )
