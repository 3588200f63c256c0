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
    return TimelineChange(
        order_id=document["order_id"],
        version=int(document["version"]),
        digest=document["digest"],
        status=document["status"],
        timeline=orjson.dumps(document["timeline"]),
    )
