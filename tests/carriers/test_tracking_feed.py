"""The opening every carrier tracking parser shares (:mod:`carriers.tracking_feed`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from pydantic import BaseModel

from carriers.base import Collector, Problem, ProblemCode
from carriers.tracking_feed import Shape, TrackingFeed, valid_items
from wismo.vocab import TrackingStatus

RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
FEED = TrackingFeed("test", carrier="test", naive_tz=UTC)


class Piece(BaseModel):
    number: str


class Failure(BaseModel):
    error: str


def _piece(piece: Piece, path: str, received_at: datetime, out: Collector) -> None:
    out.note(Problem(ProblemCode.UNSUPPORTED, piece.number, path or None))


def _failure(failure: Failure, path: str, received_at: datetime, out: Collector) -> None:
    out.delivery_id = failure.error


PIECE = Shape(frozenset({"number"}), Piece, _piece)
FAILURE = Shape(frozenset({"error"}), Failure, _failure)


def _parse(raw: bytes) -> list[tuple[str, str | None, str]]:
    result = FEED.parse(raw, RECEIVED_AT, (FAILURE, PIECE), "a piece", listed=PIECE)
    return [(p.code.value, p.path, p.message) for p in result.problems]


def test_a_body_is_read_as_the_first_shape_it_fits() -> None:
    result = FEED.parse(b'{"error": "E1", "number": "1"}', RECEIVED_AT, (FAILURE, PIECE), "x")
    assert (result.problems, result.delivery_id) == ((), "E1")
    assert _parse(b'{"number": "1"}') == [("unsupported", None, "1")]


def test_what_fits_no_shape_is_malformed_and_what_does_not_validate_is_invalid() -> None:
    assert _parse(b"not json")[0][:2] == ("malformed", None)
    assert _parse(b'{"other": 1}') == [("malformed", None, "expected a piece")]
    assert _parse(b"[]") == [("malformed", None, "expected a piece")]
    assert _parse(b'{"number": []}')[0][:2] == ("invalid", "number")


def test_a_listed_body_reads_every_item_at_its_index() -> None:
    assert _parse(b'[{"number": "1"}, {"number": "2"}]') == [
        ("unsupported", "[0]", "1"),
        ("unsupported", "[1]", "2"),
    ]
    assert _parse(b'[{"number": "1"}, {"error": "E"}]') == [("malformed", None, "expected a piece")]


def test_valid_items_skips_what_does_not_fit_and_keeps_the_siblings() -> None:
    out = Collector()
    items = [{"number": "1"}, "scan", {"number": 2}, {"number": "3"}]
    read = [(where, piece.number) for where, piece in valid_items(out, items, Piece, "x.pieces")]
    assert read == [("x.pieces[0]", "1"), ("x.pieces[3]", "3")]
    assert [(p.code, p.path) for p in out.problems] == [
        (ProblemCode.INVALID, "x.pieces[1]"),
        (ProblemCode.INVALID, "x.pieces[2].number"),
    ]


def test_a_local_time_is_read_in_the_feed_zone_unless_another_is_given() -> None:
    assert FEED.instant("2024-05-01T10:30:00") == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    plus_2 = timezone(timedelta(hours=2))
    assert FEED.instant("2024-05-01T10:30:00", plus_2) == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    assert FEED.instant("yesterday") is None


def test_a_parcel_states_its_estimate_at_its_newest_scan_else_at_receipt() -> None:
    out = Collector()
    parcel = FEED.parcel(out, "1Z999AA10123456784", RECEIVED_AT)
    parcel.estimate("unscanned", date(2024, 6, 5))
    early, late = datetime(2024, 5, 2, tzinfo=UTC), datetime(2024, 5, 3, tzinfo=UTC)
    for at in (late, early):
        parcel.scan("scan", at, (TrackingStatus.IN_TRANSIT, None), "IT", None, None)
    parcel.estimate("scanned", date(2024, 6, 5))
    unscanned, _, _, scanned = out.events
    assert (unscanned.occurred_at, scanned.occurred_at) == (RECEIVED_AT, late)
    assert {(e.source, e.tracking_number) for e in out.events} == {("test", "1Z999AA10123456784")}
    assert out.problems == []
