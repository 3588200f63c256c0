"""What every source package provides (:class:`Source`, usually a :class:`PackagedSource`), and
the values its pure functions return (:class:`ParseResult`, gathered in a :class:`Collector`).

A source turns the raw bytes a carrier, aggregator or commerce system sends (plus the HTTP
headers) into canonical events. Nothing here does I/O, and bad input is never an exception: it
is a :class:`Problem` in the :class:`ParseResult`, so the caller (webhook handler, normalise
agent, CLI) decides between a 4xx, a dead-letter record or an error message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from wismo.events import Event


class ProblemCode(StrEnum):
    MALFORMED = "malformed"  # not JSON / not the expected structure at all
    INVALID = "invalid"  # structured, but a field is missing or wrong
    UNMAPPED_CODE = "unmapped_code"  # a carrier code with no mapping (event kept as unknown)
    UNSUPPORTED = "unsupported"  # a well-formed message of a type we deliberately ignore
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"


#: Problems after which the input as a whole must be dead-lettered / answered with a 4xx.
FATAL_CODES = frozenset({ProblemCode.MALFORMED, ProblemCode.INVALID})


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    message: str
    path: str | None = None  # where in the payload, e.g. "msg.checkpoints[3].tag"
    raw_code: str | None = None  # the carrier code concerned, for unmapped codes

    @property
    def fatal(self) -> bool:
        return self.code in FATAL_CODES

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code}{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParseResult:
    events: tuple[Event, ...] = ()
    problems: tuple[Problem, ...] = ()
    delivery_id: str | None = field(default=None)  # the source's id of this delivery, for dedup

    @property
    def fatal(self) -> bool:
        """True when part of the input could not be turned into events (dead-letter it)."""
        return any(p.fatal for p in self.problems)

    @property
    def unmapped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.code is ProblemCode.UNMAPPED_CODE)

    def reason(self) -> str:
        """All problems as one line, for a 4xx body or a dead-letter record."""
        return "; ".join(str(p) for p in self.problems)


def failed(code: ProblemCode, message: str, path: str | None = None) -> ParseResult:
    return ParseResult(problems=(Problem(code, message, path),))


@dataclass(slots=True)
class Collector:
    """Events and problems gathered while parsing one delivery, and the delivery's id once a
    parser has read it."""

    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    delivery_id: str | None = None

    def add(self, outcome: tuple[Event | None, Problem | None]) -> None:
        event, problem = outcome
        if event is not None:
            self.events.append(event)
        self.note(problem)

    def note(self, problem: Problem | None) -> None:
        if problem is not None:
            self.problems.append(problem)

    def result(self, delivery_id: str | None = None) -> ParseResult:
        given = self.delivery_id if delivery_id is None else delivery_id
        return ParseResult(tuple(self.events), tuple(self.problems), given)


Headers = Mapping[str, str]
"""HTTP headers with lower-cased names."""


@runtime_checkable
class Source(Protocol):
    """One carrier, aggregator or commerce system. Implemented once per ``carriers/<name>/``."""

    name: str

    def parse(self, raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
        """Raw payload → canonical events and problems. Pure; never raises on bad input."""
        ...

    def verify(
        self, raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime
    ) -> Problem | None:
        """Check the signature over the raw body; ``None`` means authentic.

        ``secrets`` holds every live secret (two during a rotation); comparison is constant-time.
        """
        ...

    def secret_problem(self, secret: str) -> str | None:
        """Why ``secret`` cannot be one of this source's secrets (checked when the API starts);
        ``None`` when it can. Never quotes the secret."""
        ...


ParseFunction = Callable[[bytes, Headers, datetime], ParseResult]
VerifyFunction = Callable[[bytes, Headers, Sequence[str], datetime], Problem | None]
SecretCheck = Callable[[str], str | None]


def any_secret(secret: str) -> str | None:
    """The secret check of a scheme that uses any string as it is."""
    return None


@dataclass(frozen=True, slots=True)
class PackagedSource:
    """A :class:`Source` made of a package's ``parse`` and ``verify`` functions: what every
    ``carriers/<name>/__init__.py`` exports as ``SOURCE``."""

    name: str
    parse_function: ParseFunction
    verify_function: VerifyFunction
    secret_check: SecretCheck = any_secret

    def parse(self, raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
        return self.parse_function(raw, headers, received_at)

    def verify(
        self, raw: bytes, headers: Headers, secrets: Sequence[str], now: datetime
    ) -> Problem | None:
        return self.verify_function(raw, headers, secrets, now)

    def secret_problem(self, secret: str) -> str | None:
        return self.secret_check(secret)
