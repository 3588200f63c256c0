"""DHL push: the token DHL echoes in ``dhl-push-token`` must equal a live secret."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from carriers.base import ProblemCode
from carriers.registry import get

BODY = (Path(__file__).parent / "dhl" / "parcel_de_neighbour.json").read_bytes()
NOW = datetime(2024, 4, 18, 12, tzinfo=UTC)
DHL = get("dhl")


def test_the_subscription_token_is_accepted() -> None:
    assert DHL.verify(BODY, {"dhl-push-token": "tok-123"}, ["tok-123"], NOW) is None


def test_a_wrong_token_is_rejected() -> None:
    problem = DHL.verify(BODY, {"dhl-push-token": "tok-999"}, ["tok-123"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_a_missing_token_is_reported_as_missing() -> None:
    problem = DHL.verify(BODY, {"dhl-api-key": "tok-123"}, ["tok-123"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.MISSING_SIGNATURE


def test_both_tokens_work_during_a_rotation() -> None:
    live = ["tok-old", "tok-new"]
    assert DHL.verify(BODY, {"dhl-push-token": "tok-old"}, live, NOW) is None
    assert DHL.verify(BODY, {"dhl-push-token": "tok-new"}, live, NOW) is None
    problem = DHL.verify(BODY, {"dhl-push-token": "tok-old"}, ["tok-new"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE
