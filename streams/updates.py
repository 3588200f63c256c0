"""The timeline topic's messages: a timeline change as JSON (header fields + the document)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson

from projections.store import TimelineChange

log = logging.getLogger(__name__)


def encode_change(change: TimelineChange) -> bytes:
    return orjson.dumps(
        {
            "order_id": change.order_id,
            "version": change.version,
            "digest": change.digest,
            "status": change.status,
            "fold": change.fold,
            "timeline": orjson.Fragment(change.timeline),
        }
    )


def decode_change(value: bytes) -> TimelineChange:
    """Raises ``KeyError``/``ValueError`` for a message that is not a timeline change."""
    document = orjson.loads(value)
    if not isinstance(document, dict):
        raise ValueError(f"a timeline change is a JSON object, not {type(document).__name__}")
    fields = (document["order_id"], document["digest"], document["status"])
    fold = document.get("fold", "")  # absent from changes written before it was recorded
    if not all(isinstance(field, str) for field in (*fields, fold)):
        raise ValueError("order_id, digest, status and fold of a timeline change are strings")
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
        fold=fold,
    )


def decode_changes(values: Iterable[bytes | None]) -> list[TimelineChange]:
    """The timeline changes among a batch's values; anything else is skipped with a warning
    (only the timeline agent writes the topic: what does not decode is not ours)."""
    changes: list[TimelineChange] = []
    for value in values:
        try:
            changes.append(decode_change(value or b""))
        except (KeyError, ValueError, TypeError) as error:
            log.warning("skipping a message that is not a timeline change: %s", error)
    return changes
