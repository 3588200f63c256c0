"""Event ids of the shared event builders (:mod:`carriers.build`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from carriers.build import checkpoint_event
from carriers.places import place
from wismo.vocab import TrackingStatus

RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)


def test_checkpoint_id_is_the_natural_key_and_ignores_the_wording() -> None:
    def scan(message: str, at: datetime, number: str = "1z999aa10123456784") -> str:
        return checkpoint_event(
            "aftership",
            tracking_number=number,
            occurred_at=at,
            status=TrackingStatus.IN_TRANSIT,
            reason=None,
            raw_code="InTransit_007",
            message=message,
            location=place(city="Memphis", country="US"),
            carrier="ups",
            estimated_delivery=None,
            received_at=RECEIVED_AT,
        ).event_id

    at = datetime(2024, 5, 1, 10, tzinfo=UTC)
    same_instant = at.astimezone(timezone(timedelta(hours=-5)))
    assert scan("Departed", at) == scan("Departed from facility", same_instant)
    assert scan("Departed", at) == scan("Departed", at, number="1Z 999 AA1 0123 4567 84")
    assert scan("Departed", at) != scan("Departed", at + timedelta(minutes=1))
