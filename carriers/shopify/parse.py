"""Shopify webhook → canonical events, by topic (the ``X-Shopify-Topic`` header).

Order topics (``orders/create``, ``orders/updated``, ``orders/cancelled``, ``orders/paid``,
``orders/fulfilled``, ``orders/partially_fulfilled``) carry the whole order; ``fulfillments/*``,
``fulfillment_events/create``, ``refunds/create`` and ``returns/*`` carry one resource each. The
delivery's dedup key is ``X-Shopify-Event-Id`` (the same across retries), else
``X-Shopify-Webhook-Id``. A body without a topic header (a file given to ``wismo normalise``) is
recognised by its shape.

The REST Admin API answers the same resources wrapped in their name: ``{"order": {...}}``,
``{"orders": [...]}``, ``{"fulfillment": {...}}``, ``{"fulfillments": [...]}`` (and likewise
``fulfillment_event(s)`` and ``refund(s)``). A wrapped body is read resource by resource, each
as the webhook topic that carries it (an order as ``orders/updated`` unless the header names
another order topic), so a polled resource and the same resource pushed give the same events
(and ids). A resource always has an ``id``; a wrapper never does, which tells them apart (an
order's own ``fulfillments`` list is never mistaken for a wrapper).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.decode import load_json
from carriers.shopify.build import SOURCE_NAME
from carriers.shopify.fulfilments import add_fulfilment, fulfilment_event_events
from carriers.shopify.orders import add_refund, order_events, return_events

__all__ = ["SOURCE_NAME", "parse"]

TOPIC_HEADER = "x-shopify-topic"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"

ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/paid",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
FULFILMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})

# ``status`` of a return body → the topic that sends a return in that state
_RETURN_TOPIC_BY_STATUS = {
    "requested": "returns/request",
    "open": "returns/approve",
    "declined": "returns/decline",
    "canceled": "returns/cancel",
    "closed": "returns/close",
}


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    delivery_id = headers.get(EVENT_ID_HEADER) or headers.get(WEBHOOK_ID_HEADER) or None
    body, problem = load_json(raw)
    if problem is not None:
        return ParseResult(problems=(problem,), delivery_id=delivery_id)
    if not isinstance(body, dict):
        problem = Problem(ProblemCode.MALFORMED, "expected a JSON object (a Shopify webhook)")
        return ParseResult(problems=(problem,), delivery_id=delivery_id)
    header_topic = (headers.get(TOPIC_HEADER) or "").strip().lower()
    wrapper = _wrapper(body, header_topic)
    if wrapper is not None:
        return _wrapped(body, wrapper, header_topic, headers, received_at).result(delivery_id)
    topic = header_topic or infer_topic(body)
    if topic is None:
        problem = Problem(ProblemCode.INVALID, f"missing the {TOPIC_HEADER} header")
        return ParseResult(problems=(problem,), delivery_id=delivery_id)
    return _by_topic(topic, body, headers, received_at).result(delivery_id)


def _by_topic(
    topic: str, body: dict[str, Any], headers: Headers, received_at: datetime
) -> Collector:
    if topic in ORDER_TOPICS:
        return order_events(body, topic, received_at)
    if topic in FULFILMENT_TOPICS:
        collected = Collector()
        add_fulfilment(collected, body, None, received_at, "")
        return collected
    if topic == "fulfillment_events/create":
        return fulfilment_event_events(body, received_at)
    if topic == "refunds/create":
        collected = Collector()
        add_refund(collected, body, None, received_at, "")
        return collected
    if topic.startswith("returns/"):
        return return_events(body, topic, headers, received_at)
    collected = Collector()
    collected.note(Problem(ProblemCode.UNSUPPORTED, f"topic {topic!r} carries no order data"))
    return collected


# ---------------------------------------------------------------------------------------------
# REST Admin API answers

#: The wrapper key of each REST resource → (the webhook topic that carries that resource, True
#: when the key holds a list).
WRAPPERS: dict[str, tuple[str, bool]] = {
    "order": ("orders/updated", False),
    "orders": ("orders/updated", True),
    "fulfillment": ("fulfillments/update", False),
    "fulfillments": ("fulfillments/update", True),
    "fulfillment_event": ("fulfillment_events/create", False),
    "fulfillment_events": ("fulfillment_events/create", True),
    "refund": ("refunds/create", False),
    "refunds": ("refunds/create", True),
}


def _wrapper(body: Mapping[str, Any], header_topic: str) -> str | None:
    """The wrapper key of a REST Admin API answer; ``None`` for a bare resource (it has an
    ``id``), a body with no known wrapper, or one whose topic header names another resource (a
    field-filtered order body without its ``id`` is still an order)."""
    if "id" in body:
        return None
    key = next((key for key in WRAPPERS if key in body), None)
    if key is None or not header_topic:
        return key
    same_resource = WRAPPERS[key][0].split("/")[0] == header_topic.split("/")[0]
    return key if same_resource else None


def _wrapped(
    body: Mapping[str, Any], key: str, header_topic: str, headers: Headers, received_at: datetime
) -> Collector:
    """Every resource of a wrapped answer, read as its webhook topic, problems under its path."""
    topic, listed = WRAPPERS[key]
    if topic == "orders/updated" and header_topic in ORDER_TOPICS:
        topic = header_topic
    value = body[key]
    collected = Collector()
    if listed and not isinstance(value, list):
        collected.note(Problem(ProblemCode.INVALID, "expected a list of resources", key))
        return collected
    items = [(f"{key}[{i}]", item) for i, item in enumerate(value)] if listed else [(key, value)]
    for path, item in items:
        if not isinstance(item, dict):
            collected.note(Problem(ProblemCode.INVALID, "expected an object", path))
            continue
        _merge(collected, _by_topic(topic, item, headers, received_at), path)
    return collected


def _merge(into: Collector, part: Collector, prefix: str) -> None:
    """``part``'s events and problems in ``into``, each problem's path under ``prefix``."""
    into.events.extend(part.events)
    for problem in part.problems:
        path = f"{prefix}.{problem.path}" if problem.path else prefix
        into.note(Problem(problem.code, problem.message, path, problem.raw_code))


def infer_topic(body: Mapping[str, Any]) -> str | None:
    """The topic a headerless body was most likely sent under."""
    if "fulfillment_id" in body and ("happened_at" in body or "status" in body):
        return "fulfillment_events/create"
    if "tracking_numbers" in body or "shipment_status" in body:
        return "fulfillments/update"
    if "refund_line_items" in body or "transactions" in body:
        return "refunds/create"
    if "return_line_items" in body or "decline" in body:
        return _RETURN_TOPIC_BY_STATUS.get(str(body.get("status")).lower())
    if "line_items" in body:
        return "orders/updated"
    return None
