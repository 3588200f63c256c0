"""A source's API answers and its webhooks say the same facts with the same events.

Each recorded webhook body is rewrapped the way the source's API answers the same resource
(EasyPost ``GET /v2/trackers[/:id]``, AfterShip ``GET /trackings[/{id}]`` in its current and
older versions, Shopify's REST Admin API wrappers, a Salesforce REST query answer) and must give
the same canonical events, ids included: a polled resource and the pushed one fold into one
fact. A list answer gives the events of every resource it holds, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.base import ParseResult
from carriers.registry import get
from carriers.salesforce_om.records import MAPPERS
from carriers.shopify.parse import ORDER_TOPICS
from wismo.events import EddRevisedEvent, Event, EventKind

HERE = Path(__file__).parent
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
Headers = dict[str, str]


def _payloads(source: str) -> list[tuple[str, Any, Headers]]:
    """Every recorded JSON payload of ``source`` with its headers (lower-cased)."""
    found = []
    for path in sorted((HERE / source).glob("*.json")):
        if path.name.endswith((".expected.jsonl", ".headers.json", ".expected_problems.json")):
            continue
        try:
            body = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        headers_file = path.with_name(path.stem + ".headers.json")
        raw = orjson.loads(headers_file.read_bytes()) if headers_file.exists() else {}
        found.append((path.stem, body, {k.lower(): str(v) for k, v in raw.items()}))
    return found


def _parse(source: str, body: Any, headers: Headers | None = None) -> ParseResult:
    return get(source).parse(orjson.dumps(body), headers or {}, RECEIVED_AT)


def _clean(source: str, body: Any, headers: Headers | None = None) -> tuple[Event, ...]:
    """The events of a body that parses without any problem."""
    result = _parse(source, body, headers)
    assert result.problems == ()
    return result.events


# ---------------------------------------------------------------------------------------------
# EasyPost


def _easypost_trackers() -> list[Any]:
    """The tracker of every clean ``tracker.*`` webhook that states its own ``updated_at`` (the
    instant both shapes state the estimate at)."""
    trackers = []
    for name, body, _ in _payloads("easypost"):
        if not (isinstance(body, dict) and body.get("object") == "Event"):
            continue
        result = body.get("result")
        if not isinstance(result, dict) or not result.get("updated_at"):
            continue
        if _parse("easypost", body).problems:
            continue
        trackers.append(pytest.param(body, id=name))
    return trackers


def _without_was(events: tuple[Event, ...]) -> tuple[Event, ...]:
    """The events with an estimate's "was <date>" note left out: only a webhook's
    ``previous_attributes`` can say what the estimate was before."""
    return tuple(
        e.model_copy(update={"payload": e.payload.model_copy(update={"reason": None})})
        if e.kind is EventKind.EDD_REVISED
        else e
        for e in events
    )


@pytest.mark.parametrize("event", _easypost_trackers())
def test_easypost_tracker_read_gives_the_webhook_events(event: dict[str, Any]) -> None:
    pushed = _clean("easypost", event)
    tracker = event["result"]

    assert pushed
    for polled in (tracker, {"trackers": [tracker], "has_more": False}):
        events = _clean("easypost", polled)
        assert [e.event_id for e in events] == [e.event_id for e in pushed]
        assert _without_was(events) == _without_was(pushed)


def test_easypost_trackers_page_gives_every_trackers_events() -> None:
    trackers = [p.values[0]["result"] for p in _easypost_trackers()]
    each = tuple(e for tracker in trackers for e in _clean("easypost", tracker))

    assert len(trackers) >= 3
    assert _clean("easypost", {"trackers": trackers, "has_more": True}) == each


def test_easypost_tracker_of_another_object_is_invalid() -> None:
    result = _parse("easypost", {"trackers": [{"object": "Shipment", "tracking_code": "EZ1"}]})

    assert result.events == ()
    assert [(p.code.value, p.path) for p in result.problems] == [("invalid", "trackers[0].object")]


# ---------------------------------------------------------------------------------------------
# AfterShip

AFTERSHIP_ANSWERS: dict[str, Callable[[Any], Any]] = {
    "GET /trackings/{id} (2024 versions on)": lambda t: {"meta": {"code": 200}, "data": t},
    "GET /trackings/{id} (v4)": lambda t: {"meta": {"code": 200}, "data": {"tracking": t}},
    "GET /trackings": lambda t: {
        "meta": {"code": 200},
        "data": {"pagination": {"total": 1, "has_next_page": False}, "trackings": [t]},
    },
}


def _aftership_trackings() -> list[Any]:
    return [
        pytest.param(body["msg"], id=name)
        for name, body, _ in _payloads("aftership")
        if isinstance(body, dict)
        and body.get("event") in ("tracking_update", "edd_revise")
        and isinstance(body.get("msg"), dict)
        and not _parse("aftership", body).problems
    ]


def _split(events: tuple[Event, ...]) -> tuple[list[Event], list[tuple[str, object]]]:
    """(checkpoints, [(tracking number, estimated date)] of the estimates)."""
    checkpoints: list[Event] = [e for e in events if e.kind is EventKind.TRACKING_CHECKPOINT]
    estimates: list[tuple[str, object]] = [
        (e.tracking_number or "", e.payload.estimated_delivery)
        for e in events
        if isinstance(e, EddRevisedEvent)
    ]
    return checkpoints, estimates


@pytest.mark.parametrize("answer", list(AFTERSHIP_ANSWERS.values()), ids=list(AFTERSHIP_ANSWERS))
@pytest.mark.parametrize("tracking", _aftership_trackings())
def test_aftership_api_answer_gives_the_webhook_checkpoints(
    tracking: dict[str, Any], answer: Callable[[Any], Any]
) -> None:
    webhook = {"event": "tracking_update", "event_id": "e1", "msg": tracking}
    pushed = _split(_clean("aftership", webhook))
    polled = _split(_clean("aftership", answer(tracking)))

    # the checkpoints are the same events; an estimate is the same date, stated when each
    # shape says it was stated (the webhook's ts, the tracking's updated_at)
    assert polled == pushed


def test_aftership_trackings_page_gives_every_trackings_events() -> None:
    trackings = [p.values[0] for p in _aftership_trackings()]
    each = tuple(e for t in trackings for e in _clean("aftership", {"data": t, "meta": {}}))
    page = {"meta": {"code": 200}, "data": {"trackings": trackings}}

    assert len(trackings) >= 3
    assert _clean("aftership", page) == each


def test_aftership_error_answer_is_unsupported_and_names_the_code() -> None:
    answer = {"meta": {"code": 4004, "type": "NotFound", "message": "Tracking does not exist."}}
    result = _parse("aftership", {**answer, "data": {}})

    assert result.events == ()
    assert not result.fatal
    assert "4004" in result.reason()


# ---------------------------------------------------------------------------------------------
# Shopify

#: The topic of a webhook body → the REST wrapper keys of that resource (one, many).
SHOPIFY_WRAPPERS = {
    "orders": ("order", "orders"),
    "fulfillments": ("fulfillment", "fulfillments"),
    "fulfillment_events": ("fulfillment_event", "fulfillment_events"),
    "refunds": ("refund", "refunds"),
}


def _shopify_resources() -> list[Any]:
    found = []
    for name, body, headers in _payloads("shopify"):
        topic = headers.get("x-shopify-topic", "")
        resource = topic.split("/")[0]
        pushed = _parse("shopify", body, headers)
        if resource not in SHOPIFY_WRAPPERS or pushed.fatal or not pushed.events:
            continue
        found.append(pytest.param(body, headers, id=name))
    return found


@pytest.mark.parametrize(("body", "headers"), _shopify_resources())
def test_shopify_rest_resource_gives_the_webhook_events(body: Any, headers: Headers) -> None:
    topic = headers["x-shopify-topic"]
    one, many = SHOPIFY_WRAPPERS[topic.split("/")[0]]
    pushed = _parse("shopify", body, headers).events
    # a polled answer has no topic: an order reads as orders/updated unless one is named
    polled_headers = {"x-shopify-topic": topic} if topic == "orders/create" else {}

    assert pushed
    assert _parse("shopify", {one: body}, polled_headers).events == pushed
    assert _parse("shopify", {many: [body]}, polled_headers).events == pushed


def test_shopify_orders_list_gives_every_orders_events() -> None:
    orders = [
        body
        for body, headers in (p.values for p in _shopify_resources())
        if headers["x-shopify-topic"] in ORDER_TOPICS - {"orders/create"}
    ]
    updated = {"x-shopify-topic": "orders/updated"}
    each = tuple(e for order in orders for e in _parse("shopify", order, updated).events)

    assert len(orders) >= 3
    assert _parse("shopify", {"orders": orders}, {}).events == each
    assert len({e.order_id for e in each}) >= 2


def test_shopify_orders_own_fulfillments_list_is_not_a_wrapper() -> None:
    order = orjson.loads((HERE / "shopify" / "order_updated_with_fulfillment.json").read_bytes())
    assert order["fulfillments"]
    headers = {"x-shopify-topic": "orders/updated"}

    assert _parse("shopify", order, {}).events == _parse("shopify", order, headers).events
    kinds = {e.kind for e in _parse("shopify", order, {}).events}
    assert EventKind.ORDER_CHANGED in kinds


def test_shopify_order_body_without_id_under_an_order_topic_is_not_a_wrapper() -> None:
    order = orjson.loads((HERE / "shopify" / "order_updated_with_fulfillment.json").read_bytes())
    del order["id"]
    result = _parse("shopify", order, {"x-shopify-topic": "orders/updated"})

    assert result.events == ()
    assert [(p.code.value, p.path) for p in result.problems] == [("invalid", "id")]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"orders": {"id": 1}}, "orders"),
        ({"orders": [7]}, "orders[0]"),
        ({"fulfillment": "f"}, "fulfillment"),
        ({"refunds": [{"order_id": 1}]}, "refunds[0].id"),
    ],
)
def test_shopify_malformed_wrapper_is_a_problem_at_its_path(body: Any, path: str) -> None:
    result = _parse("shopify", body, {})

    assert result.events == ()
    assert result.fatal
    assert [p.path for p in result.problems] == [path]


# ---------------------------------------------------------------------------------------------
# Salesforce OM


def _salesforce_records() -> list[Any]:
    return [
        pytest.param(body, headers, id=name)
        for name, body, headers in _payloads("salesforce_om")
        if isinstance(body, dict)
        and body.get("attributes", {}).get("type") in MAPPERS
        and _parse("salesforce_om", body, headers).events
        and not _parse("salesforce_om", body, headers).fatal
    ]


@pytest.mark.parametrize(("record", "headers"), _salesforce_records())
def test_salesforce_query_answer_gives_the_callout_events(record: Any, headers: Headers) -> None:
    pushed = _parse("salesforce_om", record, headers).events
    answer = {"totalSize": 1, "done": True, "records": [record]}

    assert _parse("salesforce_om", answer).events == pushed
    assert _parse("salesforce_om", [record]).events == pushed


def test_salesforce_query_page_gives_every_records_events() -> None:
    records = [p.values[0] for p in _salesforce_records()]
    each = tuple(e for record in records for e in _parse("salesforce_om", record).events)
    answer = {
        "totalSize": 4000,
        "done": False,
        "nextRecordsUrl": "/services/data/v61.0/query/01gRO0000016PIAYA2-2000",
        "records": records,
    }

    assert len(records) >= 4
    assert _parse("salesforce_om", answer).events == each


# ---------------------------------------------------------------------------------------------
# Carrier tracking APIs


def test_ups_track_api_multi_package_answer_gives_each_packages_events() -> None:
    body = orjson.loads((HERE / "ups" / "track_multi_package.json").read_bytes())
    packages = body["trackResponse"]["shipment"][0]["package"]
    each: list[Event] = []
    for package in packages:
        alone = {"trackResponse": {"shipment": [{"package": [package]}]}}
        each.extend(_clean("ups", alone))

    events = _parse("ups", body).events
    assert events == tuple(each)
    assert {e.tracking_number for e in events} == {p["trackingNumber"] for p in packages}


def test_fedex_push_and_track_api_answer_are_one_shape() -> None:
    push = orjson.loads((HERE / "fedex" / "webhook_push.json").read_bytes())
    answer = {k: v for k, v in push.items() if k != "outputMetaData"}

    assert _clean("fedex", answer) == _clean("fedex", push)


# ---------------------------------------------------------------------------------------------
# Lists, whatever they hold


def _list_cases() -> list[Any]:
    """(source, the single-resource answer, the list answer, the recorded resources)."""
    easypost = [p.values[0]["result"] for p in _easypost_trackers()]
    aftership = [p.values[0] for p in _aftership_trackings()]
    shopify = [
        body
        for body, headers in (p.values for p in _shopify_resources())
        if headers["x-shopify-topic"] in ORDER_TOPICS - {"orders/create"}
    ]
    salesforce = [p.values[0] for p in _salesforce_records()]

    def single(x: Any) -> Any:
        return x

    return [
        pytest.param("easypost", single, lambda xs: {"trackers": xs}, easypost, id="easypost"),
        pytest.param(
            "aftership",
            lambda x: {"meta": {"code": 200}, "data": x},
            lambda xs: {"meta": {"code": 200}, "data": {"trackings": xs}},
            aftership,
            id="aftership",
        ),
        pytest.param(
            "shopify", lambda x: {"order": x}, lambda xs: {"orders": xs}, shopify, id="shopify"
        ),
        pytest.param(
            "salesforce_om",
            single,
            lambda xs: {"totalSize": len(xs), "done": True, "records": xs},
            salesforce,
            id="salesforce_om",
        ),
    ]


@pytest.mark.parametrize(("source", "one", "many", "resources"), _list_cases())
@settings(max_examples=25)
@given(data=st.data())
def test_a_list_answer_gives_each_resources_events_in_order(
    source: str,
    one: Callable[[Any], Any],
    many: Callable[[list[Any]], Any],
    resources: list[Any],
    data: Any,
) -> None:
    chosen = data.draw(st.lists(st.sampled_from(resources), max_size=6))
    each = tuple(e for item in chosen for e in _parse(source, one(item)).events)

    assert _parse(source, many(chosen)).events == each
