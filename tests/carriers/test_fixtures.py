"""Every recorded payload of every source parses to exactly its expected canonical events.

Layout, one directory per source (``tests/carriers/<source>/``):

* ``NAME.json`` — the payload as the source sends it (bytes are parsed as they are, so a
  malformed payload is simply a file that is not valid JSON);
* ``NAME.expected.jsonl`` — the canonical events, one JSON object per line, in parser order
  (empty when the payload yields none);
* ``NAME.headers.json`` — optional HTTP headers of the delivery, ``{"Name": "value"}``;
* ``NAME.expected_problems.json`` — optional ``[{"code", "path", "raw_code"?}]`` in parser order;
  absent means the payload must parse without any problem.

Payloads are parsed with ``received_at`` = :data:`RECEIVED_AT`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from carriers.base import ParseResult
from carriers.registry import get, names
from wismo.events import dump_event, event_to_dict, parse_event

RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
HERE = Path(__file__).parent
MIN_FIXTURES_PER_SOURCE = 8
EXPECTED = ".expected.jsonl"
HEADERS = ".headers.json"
PROBLEMS = ".expected_problems.json"
_AUXILIARY = (EXPECTED, HEADERS, PROBLEMS)


def _source_dirs() -> list[Path]:
    # every registered source must have its fixtures: a missing folder fails the set check
    return [HERE / name for name in names()]


def _payloads(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.glob("*.json")
        if not path.name.endswith(_AUXILIARY) and path.is_file()
    )


def _cases() -> Iterator[Any]:
    for directory in _source_dirs():
        for payload in _payloads(directory):
            yield pytest.param(directory.name, payload, id=f"{directory.name}/{payload.stem}")


def _sibling(payload: Path, suffix: str) -> Path:
    return payload.with_name(payload.stem + suffix)


def _parse(source: str, payload: Path) -> ParseResult:
    headers_file = _sibling(payload, HEADERS)
    raw_headers = json.loads(headers_file.read_text()) if headers_file.exists() else {}
    headers = {name.lower(): str(value) for name, value in raw_headers.items()}
    return get(source).parse(payload.read_bytes(), headers, RECEIVED_AT)


def _problems(result: ParseResult) -> list[dict[str, str]]:
    described = []
    for problem in result.problems:
        entry = {"code": problem.code.value}
        if problem.path is not None:
            entry["path"] = problem.path
        if problem.raw_code is not None:
            entry["raw_code"] = problem.raw_code
        described.append(entry)
    return described


@pytest.mark.parametrize(("source", "payload"), list(_cases()))
def test_payload_gives_expected_events(source: str, payload: Path) -> None:
    result = _parse(source, payload)

    expected_lines = _sibling(payload, EXPECTED).read_bytes().splitlines()
    expected = [orjson.loads(line) for line in expected_lines if line.strip()]
    assert [event_to_dict(event) for event in result.events] == expected

    problems_file = _sibling(payload, PROBLEMS)
    expected_problems = json.loads(problems_file.read_text()) if problems_file.exists() else []
    assert _problems(result) == expected_problems


@pytest.mark.parametrize(("source", "payload"), list(_cases()))
def test_events_are_canonical_and_deterministic(source: str, payload: Path) -> None:
    result = _parse(source, payload)
    again = _parse(source, payload)

    assert result == again
    for event in result.events:
        assert event.source == source
        assert parse_event(dump_event(event)) == event
    # one id, one fact: a payload may repeat a fact, never give two facts the same id
    by_id: dict[str, bytes] = {}
    for event in result.events:
        assert by_id.setdefault(event.event_id, dump_event(event)) == dump_event(event)


@pytest.mark.parametrize("directory", _source_dirs(), ids=lambda path: path.name)
def test_fixture_files_come_in_complete_sets(directory: Path) -> None:
    payloads = {path.stem for path in _payloads(directory)}
    assert len(payloads) >= MIN_FIXTURES_PER_SOURCE, f"{directory.name}: too few fixtures"
    for name in payloads:
        assert (directory / f"{name}{EXPECTED}").exists(), f"{name}: no {EXPECTED}"
    for path in directory.iterdir():
        if path.name.endswith(_AUXILIARY):
            stem = path.name[: -len(next(s for s in _AUXILIARY if path.name.endswith(s)))]
            assert stem in payloads, f"{path.name} belongs to no payload"
