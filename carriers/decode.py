"""JSON bodies and the pydantic models they are read into, with bad input as a
:class:`~carriers.base.Problem` instead of an exception."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from carriers.base import Problem, ProblemCode
from wismo.errors import describe_validation_error
from wismo.events import EventKind

_KIND_TAGS = frozenset(kind.value for kind in EventKind)

Model = TypeVar("Model", bound=BaseModel)


def load_json(raw: bytes) -> tuple[Any, Problem | None]:
    """Decode a JSON body; a body that is not JSON is a ``MALFORMED`` problem."""
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as error:
        return None, Problem(ProblemCode.MALFORMED, f"not JSON: {error}")


def validate_item(
    item: object, model: type[Model], path: str | None
) -> tuple[Model | None, Problem | None]:
    """One decoded item validated as ``model``, or the problem naming where it is wrong."""
    if not isinstance(item, dict):
        return None, Problem(ProblemCode.INVALID, "expected an object", path)
    try:
        return model.model_validate(item), None
    except ValidationError as error:
        return None, validation_problem(error, path)


def validation_problem(error: ValidationError, path: str | None = None) -> Problem:
    """An ``INVALID`` problem naming the first offending field under ``path``."""
    first = error.errors(include_url=False)[0]
    # the event kind appears in the location as a union tag; it says nothing about where
    where = ".".join(str(part) for part in first["loc"] if str(part) not in _KIND_TAGS)
    full = ".".join(part for part in (path, where) if part) or None
    if first["type"] == "union_tag_invalid":
        message = f"unknown kind {first.get('ctx', {}).get('tag')!r}"
    elif error.error_count() > 1:
        message = describe_validation_error(error)
    else:
        message = str(first["msg"])
    return Problem(ProblemCode.INVALID, message, full)
