"""The timeline topic's messages: a timeline change as JSON (header fields + the document)."""

from __future__ import annotations

import orjson

from projections.store import TimelineChange


def encode_change(change: TimelineChange) -> bytes:
    return orjson.dumps(
        {
            "order_id": change.order_id,
            "version": change.version,
            "digest": change.digest,
            "status": change.status,
            "timeline": orjson.Fragment(change.timeline),
        }
    )


def decode_change(value: bytes) -> TimelineChange:
    """Raises ``KeyError``/``ValueError`` for a message that is not a timeline change."""
    document = orjson.loads(value)
    if not isinstance(document, dict):
        raise ValueError(f"a timeline change is a JSON object, not {type(document).__name__}")
    fields = (document["order_id"], document["digest"], document["status"])
    if not all(isinstance(field, str) for field in fields):
        raise ValueError("order_id, digest and status of a timeline change are strings")
    try:
        version = int(document["version"])
        timeline = orjson.dumps(document["timeline"])
    except (TypeError, orjson.JSONEncodeError) as error:
        raise ValueError(f"not a timeline change: {error}") from error
    return TimelineChange(
        order_id=document["order_id"],
        version=version,
        digest=document["digest"],
        status=document["status"],
        timeline=timeline,
    )
