"""Canonical JSON for timelines: the same timeline always encodes to the same bytes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from projections.timeline_model import Timeline
from wismo.payloads import Place


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Place):  # the only model inside a timeline: plain string fields
        return {key: item for key, item in value.__dict__.items() if item is not None}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"cannot encode {type(value).__name__}")


def timeline_to_json(timeline: Timeline, *, indent: bool = False) -> bytes:
    option = orjson.OPT_UTC_Z | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(timeline, default=_default, option=option)


def timeline_to_dict(timeline: Timeline) -> dict[str, Any]:
    """The JSON-ready form (what :func:`timeline_to_json` encodes)."""
    decoded: dict[str, Any] = orjson.loads(timeline_to_json(timeline))
    return decoded


def queue_source(timeline: Timeline) -> dict[str, Any]:
    """What the exception queue reads of a timeline's JSON form (the order's ids, its exceptions,
    each parcel's carrier), encoded exactly as :func:`timeline_to_json` would, without encoding
    and decoding the whole timeline."""
    exceptions = orjson.dumps(timeline.exceptions, default=_default, option=orjson.OPT_UTC_Z)
    return {
        "order_id": timeline.order_id,
        "order_number": timeline.order_number,
        "brand": timeline.brand,
        "exceptions": orjson.loads(exceptions),
        "shipments": [
            {
                "shipment_id": s.shipment_id,
                "tracking_number": s.tracking_number,
                "carrier": s.carrier,
            }
            for s in timeline.shipments
        ],
    }
