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
