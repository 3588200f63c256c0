"""Shopify webhook → canonical events, by topic (the ``X-Shopify-Topic`` header).

Order topics (``orders/create``, ``orders/updated``, ``orders/cancelled``, ``orders/paid``,
``orders/fulfilled``, ``orders/partially_fulfilled``) carry the whole order; ``fulfillments/*``,
``fulfillment_events/create``, ``refunds/create`` and ``returns/*`` carry one resource each. The
delivery's dedup key is ``X-Shopify-Event-Id`` (the same across retries), else
``X-Shopify-Webhook-Id``. A body without a topic header (a file given to ``wismo normalise``) is
recognised by its shape.
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
    topic = (headers.get(TOPIC_HEADER) or "").strip().lower() or infer_topic(body)
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
