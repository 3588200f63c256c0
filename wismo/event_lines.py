"""Reading canonical events from JSON lines, with a reason for every line that is not one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from wismo.errors import describe_validation_error
from wismo.events import Event, parse_event


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    reason: str
    raw: bytes

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def read_event_lines(lines: Iterable[bytes]) -> tuple[list[Event], list[LineProblem]]:
    """Decode each non-blank line; returns the valid events and the problems, in line order."""
    events: list[Event] = []
    problems: list[LineProblem] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            events.append(parse_event(text))
        except (ValidationError, orjson.JSONDecodeError, ValueError) as error:
            problems.append(LineProblem(number, describe_validation_error(error), text))
    return events, problems
