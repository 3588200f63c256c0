"""The environment variables wismo reads, derived from the settings model itself."""

from __future__ import annotations

from pydantic import BaseModel

from wismo.settings import Settings


def settings_env_names(model: type[BaseModel] = Settings, prefix: str = "WISMO_") -> set[str]:
    """Every environment variable wismo.settings.Settings reads, nested sections expanded."""
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= settings_env_names(annotation, f"{prefix}{field_name.upper()}__")
        else:
            names.add(f"{prefix}{field_name.upper()}")
    return names


def unset_by_default(model: type[BaseModel] = Settings, prefix: str = "WISMO_") -> set[str]:
    """The variables of settings whose default is ``None`` (an SMTP host, an SMS URL, …): left
    unset, they keep that default, which no environment value can spell."""
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= unset_by_default(annotation, f"{prefix}{field_name.upper()}__")
        elif field.default is None:
            names.add(f"{prefix}{field_name.upper()}")
    return names


#: variables that fill one entry of a map setting, e.g. a polled source's credentials:
#: WISMO_POLL__CARRIERS__UPS__CLIENT_SECRET
ENTRY_PREFIXES = ("WISMO_POLL__CARRIERS__",)
