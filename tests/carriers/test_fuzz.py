"""Parsers never raise: arbitrary bytes, arbitrary JSON, recorded payloads with any part
replaced by arbitrary JSON, and each source's API answer shapes wrapped around arbitrary JSON or
around any recorded part (itself with any part replaced) all come back as a ParseResult (events
and/or problems)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.base import ParseResult, Problem, Source
from carriers.registry import get, names
from wismo.events import dump_event, parse_event

RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
HERE = Path(__file__).parent
_AUXILIARY = (".expected.jsonl", ".headers.json", ".expected_problems.json")

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "2024-05-01T10:00:00Z", "2024-05-01", "1Z999AA10123456784", "Z"]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
HEADERS = st.dictionaries(
    st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x-other"]),
    st.text(max_size=30),
    max_size=4,
)


def _source(name: str) -> Source:
    source = get(name)
    assert isinstance(source, Source)
    return source


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    assert all(isinstance(problem, Problem) for problem in result.problems)
    for event in result.events:
        assert parse_event(dump_event(event)) == event


def _recorded(name: str) -> list[Any]:
    directory = HERE / name
    if not directory.is_dir():
        return []
    documents = []
    for path in sorted(directory.glob("*.json")):
        if path.name.endswith(_AUXILIARY):
            continue
        try:
            documents.append(orjson.loads(path.read_bytes()))
        except orjson.JSONDecodeError:
            continue  # the malformed fixtures are covered by the bytes property
    return documents


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: _replace(document[head], rest, value)}
    copy = list(document)
    copy[head] = _replace(copy[head], rest, value)
    return copy


@pytest.mark.parametrize("name", names())
@given(raw=st.binary(max_size=512), headers=HEADERS)
def test_arbitrary_bytes_never_raise(name: str, raw: bytes, headers: dict[str, str]) -> None:
    _check(_source(name).parse(raw, headers, RECEIVED_AT))


@pytest.mark.parametrize("name", names())
@given(document=JSON, headers=HEADERS)
def test_arbitrary_json_never_raises(name: str, document: Any, headers: dict[str, str]) -> None:
    _check(_source(name).parse(orjson.dumps(document), headers, RECEIVED_AT))


@pytest.mark.parametrize("name", names())
@given(data=st.data())
def test_recorded_payloads_with_any_part_replaced_never_raise(name: str, data: Any) -> None:
    source = _source(name)
    recorded = _recorded(name)
    assert recorded, f"no recorded payloads for {name}"
    document = data.draw(st.sampled_from(recorded))
    path = data.draw(st.sampled_from(_paths(document)))
    mutated = _replace(document, path, data.draw(JSON))
    _check(source.parse(orjson.dumps(mutated), {}, RECEIVED_AT))


def _node(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


#: Each source's API answer shapes, as functions of what they wrap (one resource or a list).
API_SHAPES: dict[str, tuple[Callable[[Any], Any], ...]] = {
    "easypost": (
        lambda x: {"object": "Tracker", "tracking_code": x, "tracking_details": [x]},
        lambda x: {"trackers": x, "has_more": False},
        lambda x: {"trackers": [x, x], "has_more": True},
        lambda x: {"error": x},
    ),
    "aftership": (
        lambda x: {"meta": {"code": 200}, "data": x},
        lambda x: {"meta": {"code": 200}, "data": {"tracking": x}},
        lambda x: {"meta": {"code": 200}, "data": {"trackings": x}},
        lambda x: {"meta": x, "data": {"trackings": [x]}},
    ),
    "shopify": (
        lambda x: {"order": x},
        lambda x: {"orders": x},
        lambda x: {"orders": [x, x]},
        lambda x: {"fulfillment": x},
        lambda x: {"fulfillments": [x]},
        lambda x: {"fulfillment_events": [x]},
        lambda x: {"refunds": [x]},
    ),
    "salesforce_om": (
        lambda x: {"totalSize": 1, "done": True, "records": x},
        lambda x: {"totalSize": 2, "done": False, "nextRecordsUrl": "/q-2", "records": [x, x]},
    ),
    "ups": (lambda x: {"trackResponse": {"shipment": [{"inquiryNumber": x, "package": x}]}},),
    "fedex": (lambda x: {"output": {"completeTrackResults": [{"trackResults": x}]}},),
    "usps": (lambda x: [x, x], lambda x: {"trackingNumber": x, "trackingEvents": x}),
    "dhl": (lambda x: {"shipments": x}, lambda x: {"shipments": [x]}),
}
_API_CASES = [
    pytest.param(name, index, id=f"{name}-{index}")
    for name, shapes in API_SHAPES.items()
    for index in range(len(shapes))
]


@pytest.mark.parametrize(("name", "index"), _API_CASES)
@settings(max_examples=20)
@given(data=st.data())
def test_api_shapes_around_any_part_never_raise(name: str, index: int, data: Any) -> None:
    wrap = API_SHAPES[name][index]
    if data.draw(st.booleans()):
        inner = data.draw(JSON)
    else:
        document = data.draw(st.sampled_from(_recorded(name)))
        inner = _node(document, data.draw(st.sampled_from(_paths(document))))
        inner = _replace(inner, data.draw(st.sampled_from(_paths(inner))), data.draw(JSON))
    _check(_source(name).parse(orjson.dumps(wrap(inner)), {}, RECEIVED_AT))


@pytest.mark.parametrize("quantity", [1e28, 1e300, 1_000_001])
def test_a_salesforce_count_too_large_is_a_problem(quantity: float) -> None:
    """Found by the test above: ``Decimal('1E+28') % 1`` raised; such a count is reported."""
    record = {
        "attributes": {"type": "OrderItemSummary"},
        "Id": "10u5g000000Zz01AAC",
        "OrderSummaryId": "1Os5g000000Ab77CAC",
        "QuantityCanceled": quantity,
        "LastModifiedDate": "2024-05-08T10:02:00.000Z",
    }
    result = _source("salesforce_om").parse(orjson.dumps(record), {}, RECEIVED_AT)
    assert result.events == ()
    assert [p.path for p in result.problems] == ["QuantityCanceled"]
