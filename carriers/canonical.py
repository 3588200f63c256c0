"""Feeds that already speak wismo's canonical events (``oms``, ``wms``): the body is one event
object, an array of them, or ``{"events": [...]}``.

Integrators may leave out what wismo can fill in: ``source`` (the feed's name), ``event_id``
(then derived from the event's content, so a re-sent event keeps its id) and ``received_at``
(always wismo's own clock). A batch with some invalid events yields the valid ones plus an
``INVALID`` problem per bad item, naming its index and field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from carriers.base import Collector, Headers, ParseResult, Problem, ProblemCode
from carriers.decode import load_json, validation_problem
from carriers.standard_webhooks import ID_HEADER
from wismo.events import Event, event_from_dict, event_to_dict
from wismo.ids import natural_event_id

_DERIVED_ID = "derived"  # stands in for a missing event_id until the content is validated
_NOT_CONTENT = ("event_id", "received_at", "raw_ref")


def parse_feed(source: str, raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    delivery_id = headers.get(ID_HEADER)
    body, problem = load_json(raw)
    items, prefix = _items(body)
    if problem is None and items is None:
        problem = Problem(
            ProblemCode.MALFORMED, 'expected an event, an array of events or {"events": [...]}'
        )
    elif problem is None and not items:
        problem = Problem(ProblemCode.INVALID, "no events in the batch", prefix or None)
    if problem is not None or items is None:
        return ParseResult(problems=(problem,) if problem else (), delivery_id=delivery_id)
    collected = Collector()
    for index, item in enumerate(items):
        path = f"{prefix}[{index}]" if prefix is not None else None
        collected.add(_event(source, item, received_at, path))
    return collected.result(delivery_id)


def _items(body: Any) -> tuple[list[Any] | None, str | None]:
    """The items and the path prefix of their indices (``None`` for a single event)."""
    if isinstance(body, list):
        return body, ""
    if isinstance(body, dict):
        if "kind" not in body and isinstance(body.get("events"), list):
            return body["events"], "events"
        return [body], None
    return None, None


def _event(
    source: str, item: Any, received_at: datetime, path: str | None
) -> tuple[Event | None, Problem | None]:
    if not isinstance(item, dict):
        return None, Problem(ProblemCode.INVALID, "an event must be a JSON object", path)
    data = {**item, "received_at": received_at.isoformat()}
    if not data.get("source"):
        data["source"] = source
    derive = not data.get("event_id")
    if derive:
        data["event_id"] = _DERIVED_ID
    try:
        event = event_from_dict(data)
    except ValidationError as error:
        return None, validation_problem(error, path)
    if derive:
        event = event.model_copy(update={"event_id": _content_id(event)})
    return event, None


def _content_id(event: Event) -> str:
    """The id of an event its sender did not identify: a hash of what it says."""
    content = {k: v for k, v in event_to_dict(event).items() if k not in _NOT_CONTENT}
    return natural_event_id(
        event.source, event.kind, orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    )
