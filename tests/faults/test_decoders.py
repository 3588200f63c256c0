"""Fuzzing the decoders between the edge and the stores (the carrier parsers have their own
suite in ``tests/carriers/test_fuzz.py``).

- ``wismo.events.parse_event``: any bytes either decode to an event that re-encodes to itself
  or raise ``pydantic.ValidationError`` — nothing else; a valid event with any one part replaced
  by arbitrary JSON likewise.
- ``wismo.event_lines.read_event_lines``: every non-blank line is an event or a problem.
- ``carriers.canonical.parse_feed`` (``POST /v1/events``): a ``ParseResult``, never an exception.
- ``streams.routing.normalise`` (the normalise agent): any bytes under any headers become events
  and/or a dead letter carrying the raw bytes, never an exception.
- Kafka header decoding and the received-at stamp: never fatal, always a UTC-aware time.
- ``streams.updates.decode_change`` (the warehouse's timeline-topic decoder): only the errors the
  warehouse catches.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bench.history import generate
from carriers.base import ParseResult
from carriers.canonical import parse_feed
from carriers.registry import names
from projections.store import TimelineChange
from streams.routing import Where, normalise
from streams.updates import decode_change, encode_change
from wismo.event_lines import read_event_lines
from wismo.events import Event, dump_event, parse_event
from wismo.topics import Header, decode_headers, received_at_of

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WHERE = Where("t.raw", 0, 42)
VALID = [dump_event(e) for e in generate(12, seed=3).valid_events.values()]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        ["", "2026-03-02T10:00:00Z", "2026-03-02", "order.placed", "tracking.checkpoint", "oms"]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


def _decodes_or_refuses(raw: bytes) -> Event | None:
    try:
        event = parse_event(raw)
    except ValidationError:
        return None
    assert parse_event(dump_event(event)) == event
    return event


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: _replaced(document[head], rest, value)}
    copy = list(document)
    copy[head] = _replaced(copy[head], rest, value)
    return copy


@given(st.binary(max_size=400))
def test_parse_event_on_arbitrary_bytes(raw: bytes) -> None:
    _decodes_or_refuses(raw)


@given(JSON)
def test_parse_event_on_arbitrary_json(document: Any) -> None:
    _decodes_or_refuses(orjson.dumps(document))


@given(st.data())
def test_parse_event_on_valid_events_with_one_part_replaced(data: st.DataObject) -> None:
    document = orjson.loads(data.draw(st.sampled_from(VALID)))
    path = data.draw(st.sampled_from(_paths(document)))
    _decodes_or_refuses(orjson.dumps(_replaced(document, path, data.draw(JSON))))


@given(st.data())
def test_parse_event_on_valid_events_cut_or_with_a_byte_changed(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(VALID))
    cut = data.draw(st.integers(0, len(raw)))
    _decodes_or_refuses(raw[:cut])
    at = data.draw(st.integers(0, len(raw) - 1))
    _decodes_or_refuses(raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at + 1 :])


def test_every_generated_event_round_trips() -> None:
    for raw in VALID:
        assert dump_event(parse_event(raw)) == raw


@given(st.lists(st.binary(max_size=80) | st.sampled_from(VALID), max_size=12))
def test_event_lines_account_for_every_line(lines: list[bytes]) -> None:
    events, problems = read_event_lines(lines)
    non_blank = [line for line in lines if line.strip()]
    assert len(events) + len(problems) == len(non_blank)
    assert all(problem.reason for problem in problems)


@given(st.binary(max_size=400) | JSON.map(orjson.dumps))
def test_canonical_feed_never_raises(raw: bytes) -> None:
    result = parse_feed("api", raw, {}, NOW)
    assert isinstance(result, ParseResult)
    assert result.events or result.problems


HEADER_VALUES = st.text(max_size=30) | st.sampled_from(["2026-03-02T10:00:00+00:00", "yesterday"])


@given(
    raw=st.binary(max_size=300) | st.sampled_from(VALID) | JSON.map(orjson.dumps),
    source=st.sampled_from([*names(), "", "nope", "../oms"]) | st.none(),
    received=HEADER_VALUES | st.none(),
    extra=st.dictionaries(st.text(max_size=15), st.text(max_size=20), max_size=3),
)
def test_the_normalise_step_turns_anything_into_events_or_a_dead_letter(
    raw: bytes, source: str | None, received: str | None, extra: dict[str, str]
) -> None:
    headers = dict(extra)
    if source is not None:
        headers[Header.SOURCE.value] = source
    if received is not None:
        headers[Header.RECEIVED_AT.value] = received
    result = normalise(raw, headers, WHERE, NOW)
    if result.dead_letter is not None:
        assert result.dead_letter.raw == raw
        assert result.dead_letter.reason
        assert result.dead_letter.offset == WHERE.offset
    for event in result.events:
        assert event.received_at is not None
        assert event.received_at.tzinfo is not None
        assert parse_event(dump_event(event)) == event


@given(st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=6))
def test_kafka_headers_always_decode(raw_headers: list[tuple[str, bytes]]) -> None:
    decoded = decode_headers(raw_headers)
    assert all(name == name.lower() for name in decoded)
    stamp = received_at_of(decoded, NOW)
    assert stamp.tzinfo is not None


@given(HEADER_VALUES)
def test_received_at_is_always_an_aware_time(text: str) -> None:
    assert received_at_of({Header.RECEIVED_AT.value: text}, NOW).tzinfo is not None


@given(st.binary(max_size=200) | JSON.map(orjson.dumps))
def test_timeline_change_decoder_raises_only_what_the_warehouse_catches(raw: bytes) -> None:
    with contextlib.suppress(ValueError, KeyError):
        decode_change(raw)


def test_a_timeline_change_keeps_the_fold_that_made_it_and_older_ones_decode_without() -> None:
    change = TimelineChange("ORD-1", 3, "abc", "shipped", b'{"order_id":"ORD-1"}', "f" * 16)
    decoded = decode_change(encode_change(change))
    assert (decoded, decoded.fold) == (change, "f" * 16)
    older = orjson.loads(encode_change(change))
    del older["fold"]  # written by a release before the fold was recorded
    assert decode_change(orjson.dumps(older)).fold == ""
    older["fold"] = 7
    with pytest.raises(ValueError, match="fold"):
        decode_change(orjson.dumps(older))
