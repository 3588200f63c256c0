"""Production refuses the development secret (or an empty one) for every signing key and
credential — capability tokens, agent JWTs, integration API keys, each webhook source's secret —
with a start-up error that names the key and the variable that sets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from wismo.settings import DEV_SECRET, ApiSettings, NotifySettings, Settings

WISMO = str(Path(sys.executable).with_name("wismo"))
REAL = "a-real-production-secret-0123456789"


def _production(**changes: Any) -> Settings:
    api: dict[str, Any] = {
        "customer_token_secret": SecretStr(REAL + "-customer"),
        "agent_jwt_secret": SecretStr(REAL + "-agent"),
        "api_keys": (SecretStr(REAL + "-key"),),
    }
    webhooks = {"ups": (SecretStr(REAL + "-ups"),), "oms": (SecretStr("whsec_cmVhbC1rZXk="),)}
    api |= changes.pop("api", {})
    webhooks |= changes.pop("webhook_secrets", {})
    notify = NotifySettings(unsubscribe_secret=SecretStr(REAL + "-unsubscribe"))
    return Settings(
        environment="prod", api=ApiSettings(**api), webhook_secrets=webhooks, notify=notify
    )


def test_production_with_real_secrets_starts() -> None:
    assert _production().environment == "prod"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"api": {"customer_token_secret": SecretStr(DEV_SECRET)}}, "api.customer_token_secret"),
        ({"api": {"agent_jwt_secret": SecretStr(DEV_SECRET)}}, "api.agent_jwt_secret"),
        ({"api": {"api_keys": (SecretStr(REAL), SecretStr(DEV_SECRET))}}, "api.api_keys[1]"),
        ({"webhook_secrets": {"ups": (SecretStr(DEV_SECRET),)}}, "webhook_secrets.ups[0]"),
        (
            {"webhook_secrets": {"fedex": (SecretStr(REAL), SecretStr(DEV_SECRET))}},
            "webhook_secrets.fedex[1]",
        ),
        ({"webhook_secrets": {"dhl": (SecretStr("  "),)}}, "webhook_secrets.dhl[0]"),
        ({"api": {"agent_jwt_secret": SecretStr("")}}, "api.agent_jwt_secret"),
        # the development secret as it was spelled before it took the Standard Webhooks form
        (
            {"api": {"customer_token_secret": SecretStr("wismo-dev-secret-change-me")}},
            "api.customer_token_secret",
        ),
        (
            {"webhook_secrets": {"oms": (SecretStr("raw:wismo-dev-secret-change-me"),)}},
            "webhook_secrets.oms[0]",
        ),
    ],
)
def test_each_key_left_at_the_development_secret_is_refused(
    changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        _production(**changes)
    message = str(refused.value)
    assert named in message
    assert "environment=prod refuses" in message
    assert REAL not in message  # no secret in the error
    assert DEV_SECRET not in message


def test_development_keeps_its_defaults() -> None:
    assert Settings().api.agent_jwt_secret.get_secret_value() == DEV_SECRET


def test_the_api_refuses_to_start_and_says_which_key(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WISMO_")},
        "WISMO_ENVIRONMENT": "prod",
        "WISMO_API__CUSTOMER_TOKEN_SECRET": REAL,
        "WISMO_API__AGENT_JWT_SECRET": REAL,
        "WISMO_API__API_KEYS": f'["{REAL}"]',
        "WISMO_WEBHOOK_SECRETS": f'{{"ups": ["{DEV_SECRET}"]}}',
    }
    done = subprocess.run(
        [WISMO, "api", "--port", "0"], env=env, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    stderr = done.stderr.decode()
    assert "webhook_secrets.ups[0] (WISMO_WEBHOOK_SECRETS)" in stderr, stderr[-2000:]
