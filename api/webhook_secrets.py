"""Configured webhook secrets checked when the API starts: each source's own format (e.g.
Standard Webhooks' ``whsec_<base64>``), so a malformed secret stops the start naming the setting
rather than refusing every delivery later. Messages name the setting, never the secret."""

from __future__ import annotations

from carriers import registry
from wismo.settings import Settings


class WebhookSecretError(ValueError):
    """One or more configured webhook secrets are not in their source's format."""


def secret_problems(settings: Settings) -> list[str]:
    """``webhook_secrets.<source>[i] (WISMO_WEBHOOK_SECRETS): <why>`` (or
    ``brands.<id>.webhook_secrets.<source>[i] (WISMO_BRANDS): <why>``) for each malformed secret
    of a registered source."""
    configured = [
        ("webhook_secrets", "WISMO_WEBHOOK_SECRETS", settings.webhook_secrets),
        *(
            (f"brands.{brand}.webhook_secrets", "WISMO_BRANDS", config.webhook_secrets)
            for brand, config in settings.brands.items()
        ),
    ]
    found = []
    for setting, variable, by_source in configured:
        for name, secrets in by_source.items():
            if name not in registry.names():
                continue
            source = registry.get(name)
            for i, secret in enumerate(secrets):
                problem = source.secret_problem(secret.get_secret_value())
                if problem is not None:
                    found.append(f"{setting}.{name}[{i}] ({variable}): {problem}")
    return found


def check_webhook_secrets(settings: Settings) -> None:
    problems = secret_problems(settings)
    if problems:
        raise WebhookSecretError(
            "malformed webhook secrets: " + "; ".join(problems) + " (docs/integrations.md)"
        )
