"""Salesforce Order Management → canonical events.

A body is whatever Salesforce (or a relay) sends:

* one record or platform event, as ``JSON.serialize`` writes it in Apex (``attributes.type``
  names the object);
* a JSON array of them (``JSON.serialize(List<SObject>)`` from a Flow's invocable action);
* a REST query answer ``{"totalSize", "done", "records": [...]}``, child relationships included;
* a Streaming API (CometD) message ``{"channel": "/event/<Name>", "data": {"payload": {...}}}``.

The delivery's dedup key is the platform event's ``EventUuid``, else the ``webhook-id`` header
of the signed callout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.decode import load_json
from carriers.salesforce_om.build import SOURCE_NAME, Context
from carriers.salesforce_om.platform_events import PLATFORM_EVENTS, add_platform_event
from carriers.salesforce_om.records import add_typed, type_of
from carriers.standard_webhooks import ID_HEADER

__all__ = ["SOURCE_NAME", "parse"]

_EVENT_CHANNEL = "/event/"


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    body, problem = load_json(raw)
    delivery_id = headers.get(ID_HEADER) or None
    if problem is not None:
        return ParseResult(problems=(problem,), delivery_id=delivery_id)
    items, prefix = _items(body)
    if items is None:
        problem = Problem(
            ProblemCode.MALFORMED,
            "expected a record, an array of records, a query answer or a streaming message",
        )
        return ParseResult(problems=(problem,), delivery_id=delivery_id)
    if len(items) == 1 and isinstance(items[0], dict) and items[0].get("EventUuid"):
        delivery_id = str(items[0]["EventUuid"])
    collected = Collector()
    ctx = Context(received_at)
    for index, item in enumerate(items):
        path = f"{prefix}[{index}]" if prefix is not None else ""
        _add(collected, item, ctx, path)
    return collected.result(delivery_id)


def _items(body: Any) -> tuple[list[Any] | None, str | None]:
    """The records of a body and the path prefix of their indices (``None``: a single one)."""
    if isinstance(body, list):
        return body, ""
    if not isinstance(body, dict):
        return None, None
    if isinstance(body.get("records"), list) and "attributes" not in body:
        return body["records"], "records"
    channel, data = body.get("channel"), body.get("data")
    if isinstance(channel, str) and channel.startswith(_EVENT_CHANNEL) and isinstance(data, dict):
        payload = data.get("payload")
        if not isinstance(payload, dict):
            return None, None
        return [{**payload, "attributes": {"type": channel[len(_EVENT_CHANNEL) :]}}], None
    return [body], None


def _add(collected: Collector, item: Any, ctx: Context, path: str) -> None:
    type_name = type_of(item)
    if type_name in PLATFORM_EVENTS:
        add_platform_event(collected, item, ctx, path, type_name=type_name)
    else:
        add_typed(collected, item, ctx, path)
