"""AfterShip parsing rules beyond the recorded fixtures: the subtag vocabulary, ids that
survive re-delivery, the time convention and which estimated delivery date wins."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from carriers.aftership import codes
from carriers.registry import get
from wismo.events import EventKind
from wismo.vocab import TrackingStatus

HERE = Path(__file__).parent
RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)

#: The delivery sub-statuses AfterShip documents (enum "Delivery Sub-statuses").
DOCUMENTED_SUBTAGS = (
    [f"Pending_00{n}" for n in range(1, 7)]
    + ["InfoReceived_001"]
    + [f"InTransit_00{n}" for n in range(1, 10)]
    + ["OutForDelivery_001", "OutForDelivery_003", "OutForDelivery_004"]
    + ["AttemptFail_001", "AttemptFail_002", "AttemptFail_003"]
    + [f"Delivered_00{n}" for n in range(1, 6)]
    + ["AvailableForPickup_001"]
    + [f"Exception_{n:03d}" for n in (*range(1, 14), *range(16, 22))]
    + ["Expired_001"]
)
RETURN_LEGS = {"Exception_010", "Exception_011"}


def _webhook(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((HERE / f"{name}.json").read_bytes())
    return document


def _parse(document: dict[str, Any]) -> Any:
    return get("aftership").parse(orjson.dumps(document), {}, RECEIVED_AT)


@pytest.mark.parametrize("subtag", DOCUMENTED_SUBTAGS)
def test_every_documented_subtag_is_mapped_within_its_tag(subtag: str) -> None:
    status, _ = codes.SUBTAGS[subtag]
    tag_status, _ = codes.TAGS[subtag.split("_")[0]]
    if subtag in RETURN_LEGS:
        assert status in {TrackingStatus.RETURNING_TO_SENDER, TrackingStatus.RETURNED_TO_SENDER}
    else:
        assert status is tag_status


def test_redelivered_checkpoints_keep_their_ids_while_the_edd_statement_is_new() -> None:
    first = _webhook("delivered")
    second = copy.deepcopy(first)
    second["event_id"], second["ts"] = "another-delivery", first["ts"] + 3600
    second["msg"]["checkpoints"][2]["message"] = "Departed from facility (reworded)"

    before, after = _parse(first), _parse(second)
    assert after.delivery_id == "another-delivery"
    pairs = list(zip(before.events, after.events, strict=True))
    kept = [a.event_id == b.event_id for a, b in pairs if a.kind is EventKind.TRACKING_CHECKPOINT]
    renewed = [a.event_id != b.event_id for a, b in pairs if a.kind is EventKind.EDD_REVISED]
    assert kept == [True] * 6
    assert renewed == [True]


def test_a_time_without_offset_is_read_as_utc_and_one_with_offset_is_converted() -> None:
    document = _webhook("out_for_delivery")
    events = _parse(document).events
    assert events[0].occurred_at == datetime(2024, 5, 2, 5, 10, tzinfo=UTC)  # "…T05:10:00"
    document = _webhook("delivered")
    events = _parse(document).events
    assert events[-2].occurred_at == datetime(2024, 5, 1, 18, 5, tzinfo=UTC)  # "…T14:05-04:00"


@pytest.mark.parametrize(
    ("fields", "expected", "said_by"),
    [
        (
            {
                "latest_estimated_delivery": {"datetime": "2024-05-09", "source": "Custom EDD"},
                "expected_delivery": "2024-05-07",
            },
            date(2024, 5, 9),
            "Custom EDD",
        ),
        (
            {
                "courier_estimated_delivery_date": {"estimated_delivery_date": "2024-05-08"},
                "aftership_estimated_delivery_date": {"estimated_delivery_date": "2024-05-06"},
            },
            date(2024, 5, 8),
            "Carrier EDD",
        ),
        (
            {"aftership_estimated_delivery_date": {"estimated_delivery_date": "2024-05-06"}},
            date(2024, 5, 6),
            "AfterShip EDD",
        ),
    ],
)
def test_the_edd_shown_by_aftership_wins(
    fields: dict[str, Any], expected: date, said_by: str
) -> None:
    document = _webhook("attempt_fail")
    document["msg"].update(fields)
    (edd,) = [e for e in _parse(document).events if e.kind is EventKind.EDD_REVISED]
    assert edd.payload.estimated_delivery == expected
    assert edd.payload.reason == said_by


def test_a_tracking_without_any_edd_states_none() -> None:
    result = _parse(_webhook("attempt_fail"))
    assert {e.kind for e in result.events} == {EventKind.TRACKING_CHECKPOINT}


def test_carrier_is_detected_when_aftership_names_no_slug() -> None:
    result = _parse(_webhook("partial_items"))
    assert {e.payload.carrier for e in result.events} == {"ups"}
