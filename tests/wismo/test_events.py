"""The canonical envelope: decoding, normalisation, rejection with a named field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from wismo.errors import describe_validation_error
from wismo.events import (
    EventKind,
    FulfilmentShippedEvent,
    TrackingCheckpointEvent,
    dump_event,
    event_json_schema,
    parse_event,
    parse_events,
)


def checkpoint(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "event_id": "ups:abc",
        "source": "ups",
        "kind": "tracking.checkpoint",
        "tracking_number": "1z 999 aa1 0123456784",
        "occurred_at": "2026-03-02T10:15:00+02:00",
        "payload": {"status": "in_transit", "raw_code": "I", "location": {"country": "gb"}},
    }
    document.update(overrides)
    return document


def reason_for(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_event(orjson.dumps(document))
    return describe_validation_error(caught.value)


def test_checkpoint_is_decoded_and_normalised() -> None:
    event = parse_event(orjson.dumps(checkpoint()))
    assert isinstance(event, TrackingCheckpointEvent)
    assert event.tracking_number == "1Z999AA10123456784"
    assert event.occurred_at == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert event.payload.location is not None
    assert event.payload.location.country == "GB"


def test_canonical_encoding_round_trips_byte_for_byte() -> None:
    encoded = dump_event(parse_event(orjson.dumps(checkpoint())))
    assert dump_event(parse_event(encoded)) == encoded
    assert b"null" not in encoded


def test_naive_timestamp_is_rejected_naming_the_field() -> None:
    assert reason_for(checkpoint(occurred_at="2026-03-02T10:15:00")).startswith("occurred_at:")


def test_unknown_status_is_rejected_naming_the_field() -> None:
    document = checkpoint(payload={"status": "teleported"})
    assert reason_for(document).startswith("payload.status:")


def test_unknown_fields_are_rejected() -> None:
    assert "payload.colour" in reason_for(checkpoint(payload={"status": "pending", "colour": 1}))


def test_unknown_kind_is_rejected() -> None:
    assert "kind" in reason_for(checkpoint(kind="parcel.teleported"))


def test_tracking_events_need_a_tracking_number() -> None:
    document = checkpoint()
    del document["tracking_number"]
    assert "tracking_number" in reason_for(document)


def test_order_events_need_an_order_id() -> None:
    document = {
        "event_id": "oms:1",
        "source": "oms",
        "kind": "order.placed",
        "occurred_at": "2026-03-02T10:15:00Z",
        "payload": {},
    }
    assert "order_id" in reason_for(document)


def test_shipment_needs_an_identity() -> None:
    document = {
        "event_id": "oms:1",
        "source": "oms",
        "kind": "fulfilment.shipped",
        "order_id": "O",
        "occurred_at": "2026-03-02T10:15:00Z",
        "payload": {"carrier": "ups"},
    }
    assert "shipment_id" in reason_for(document)


def test_shipment_key_falls_back_to_tracking_numbers() -> None:
    document = {
        "event_id": "oms:1",
        "source": "oms",
        "kind": "fulfilment.shipped",
        "order_id": "O",
        "occurred_at": "2026-03-02T10:15:00Z",
        "payload": {"packages": [{"tracking_number": "1zpkg"}]},
    }
    event = parse_event(orjson.dumps(document))
    assert isinstance(event, FulfilmentShippedEvent)
    assert event.payload.key == "1ZPKG"


def test_event_ids_must_be_safe_keys() -> None:
    assert "event_id" in reason_for(checkpoint(event_id="ups:has space"))


def test_batch_decoding() -> None:
    events = parse_events(orjson.dumps([checkpoint(), checkpoint(event_id="ups:def")]))
    assert [e.event_id for e in events] == ["ups:abc", "ups:def"]


def test_negative_amounts_are_rejected() -> None:
    document = {
        "event_id": "psp:1",
        "source": "psp",
        "kind": "payment.captured",
        "order_id": "O",
        "occurred_at": "2026-03-02T10:15:00Z",
        "payload": {"payment_id": "P", "amount": "-5"},
    }
    assert reason_for(document).startswith("payload.amount:")


def test_schema_names_every_kind() -> None:
    schema = event_json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {kind.value for kind in EventKind}
