"""Security tests run the real API (``create_app``) against the real Tansu broker and Redis, with
the API test fixtures; every webhook source has a live secret here, so each one's check runs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from carriers import registry
from tests.api.conftest import (  # noqa: F401  (fixtures used by the tests of this folder)
    api_options,
    broker,
    client,
    make_settings,
    prefix,
    redis,
    store,
)
from wismo.settings import Settings
from wismo.topics import ensure_topics

#: one live secret per source (Standard Webhooks sources use the ``whsec_`` form)
SOURCE_SECRETS = {
    name: "whsec_c2VjdXJpdHktc3VpdGUta2V5"
    if name in ("oms", "wms", "salesforce_om")
    else f"{name}-secret-for-security-tests"
    for name in registry.names()
}


@pytest.fixture
async def settings(broker: str, prefix: str, api_options: dict[str, Any]) -> Settings:  # noqa: F811
    base = make_settings(broker, prefix, **api_options)
    secrets = {name: (SecretStr(secret),) for name, secret in SOURCE_SECRETS.items()}
    settings = base.model_copy(update={"webhook_secrets": secrets})
    await ensure_topics(settings)
    return settings
