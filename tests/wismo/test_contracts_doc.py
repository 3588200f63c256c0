"""docs/contracts.md must describe every kind, every payload field and every vocabulary value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from wismo import payloads
from wismo.events import Envelope, EventKind
from wismo.vocab import ExceptionType, Reason, TrackingStatus

DOC = (Path(__file__).parents[2] / "docs" / "contracts.md").read_text()
MODELS = [
    obj
    for obj in vars(payloads).values()
    if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == payloads.__name__
]


def test_every_kind_is_documented() -> None:
    missing = [kind.value for kind in EventKind if f"`{kind.value}`" not in DOC]
    assert missing == []


@pytest.mark.parametrize("model", [Envelope, *MODELS], ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in model.model_fields if not re.search(rf"`{name}`", DOC)]
    assert missing == []


@pytest.mark.parametrize("vocabulary", [TrackingStatus, Reason, ExceptionType])
def test_every_vocabulary_value_is_documented(vocabulary: type[object]) -> None:
    missing = [v.value for v in vocabulary if f"`{v.value}`" not in DOC]  # type: ignore[attr-defined]
    assert missing == []
