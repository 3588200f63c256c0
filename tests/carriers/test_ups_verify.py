"""UPS Track Alert: the ``credential`` header must equal a live secret."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from carriers.base import ProblemCode
from carriers.registry import get

BODY = (Path(__file__).parent / "ups" / "alert_out_for_delivery.json").read_bytes()
NOW = datetime(2024, 4, 23, 13, 16, tzinfo=UTC)
UPS = get("ups")


def test_the_configured_credential_is_accepted() -> None:
    headers = {"credential": "s3cret-credential", "user-agent": "UPSPubSubTrackingService"}
    assert UPS.verify(BODY, headers, ["s3cret-credential"], NOW) is None


def test_a_wrong_credential_is_rejected() -> None:
    problem = UPS.verify(BODY, {"credential": "guess"}, ["s3cret-credential"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE


def test_a_missing_credential_is_reported_as_missing() -> None:
    for headers in ({}, {"credential": ""}):
        problem = UPS.verify(BODY, headers, ["s3cret-credential"], NOW)
        assert problem is not None
        assert problem.code is ProblemCode.MISSING_SIGNATURE


def test_both_credentials_work_during_a_rotation() -> None:
    live = ["old-credential", "new-credential"]
    assert UPS.verify(BODY, {"credential": "old-credential"}, live, NOW) is None
    assert UPS.verify(BODY, {"credential": "new-credential"}, live, NOW) is None
    retired = UPS.verify(BODY, {"credential": "old-credential"}, ["new-credential"], NOW)
    assert retired is not None
    assert retired.code is ProblemCode.BAD_SIGNATURE


def test_a_prefix_of_the_credential_is_not_enough() -> None:
    problem = UPS.verify(BODY, {"credential": "s3cret"}, ["s3cret-credential"], NOW)
    assert problem is not None
    assert problem.code is ProblemCode.BAD_SIGNATURE
