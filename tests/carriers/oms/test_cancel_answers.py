"""The OMS answering a customer's cancel request: ``cancel.confirmed`` / ``cancel.rejected`` in
the feed's canonical shape become those events as sent (the same request id, lines and note),
with one id however often and in whatever notation they are re-sent, and settle the request on
the order's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from carriers.registry import get
from projections.timeline import fold
from wismo.events import event_from_dict
from wismo.vocab import CancelStatus

RECEIVED_AT = datetime(2024, 6, 1, tzinfo=UTC)
ORDER = "ORD-10046"

identifiers = st.from_regex(r"[A-Za-z0-9_:-]{1,40}", fullmatch=True)
lines = st.lists(
    st.fixed_dictionaries({"line_id": identifiers, "quantity": st.integers(1, 1000)}),
    max_size=4,
    unique_by=lambda line: line["line_id"],
)
notes = st.none() | st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=80
)
kinds = st.sampled_from(["cancel.confirmed", "cancel.rejected"])
moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


def answer(
    kind: str, request_id: str, chosen: list[dict[str, Any]], note: str | None, at: datetime
) -> dict[str, Any]:
    payload: dict[str, Any] = {"request_id": request_id}
    if chosen:
        payload["lines"] = chosen
    if note is not None:
        payload["note"] = note
    return {"kind": kind, "order_id": ORDER, "occurred_at": at.isoformat(), "payload": payload}


def parsed(body: Any) -> Any:
    result = get("oms").parse(orjson.dumps(body), {}, RECEIVED_AT)
    assert result.problems == ()
    return result.events


@given(kinds, identifiers, lines, notes, moments)
def test_an_answer_is_the_event_it_states(
    kind: str, request_id: str, chosen: list[dict[str, Any]], note: str | None, at: datetime
) -> None:
    (event,) = parsed(answer(kind, request_id, chosen, note, at))
    assert (event.kind, event.source, event.order_id, event.occurred_at) == (kind, "oms", ORDER, at)
    payload = event.payload.model_dump(mode="json", exclude_none=True)
    assert payload["request_id"] == request_id
    assert payload.get("lines", []) == chosen
    assert payload.get("note") == (note.strip() if note is not None else None)


@given(kinds, identifiers, lines, notes, moments, st.integers(-12, 12))
def test_a_resent_answer_keeps_its_id_whatever_the_time_notation(
    kind: str,
    request_id: str,
    chosen: list[dict[str, Any]],
    note: str | None,
    at: datetime,
    hours: int,
) -> None:
    (first,) = parsed(answer(kind, request_id, chosen, note, at))
    shifted = at.astimezone(timezone(timedelta(hours=hours)))
    (again,) = parsed({"events": [answer(kind, request_id, chosen, note, shifted)]})
    assert again.event_id == first.event_id
    (other,) = parsed(answer(kind, request_id + "x", chosen, note, at))
    assert other.event_id != first.event_id


@given(kinds, moments)
def test_the_answer_settles_the_customers_request_on_the_timeline(kind: str, at: datetime) -> None:
    requested = event_from_dict(
        {
            "event_id": "customer:cq-1",
            "source": "customer",
            "kind": "cancel.requested",
            "order_id": ORDER,
            "occurred_at": (at - timedelta(minutes=5)).isoformat(),
            "payload": {
                "request_id": "cq_0123456789abcdef",
                "lines": [{"line_id": "L2", "quantity": 1}],
            },
        }
    )
    (decided,) = parsed(answer(kind, "cq_0123456789abcdef", [], "from the OMS", at))
    (request,) = fold([requested, decided], ORDER).cancel_requests
    expected = CancelStatus.CONFIRMED if kind == "cancel.confirmed" else CancelStatus.REJECTED
    assert request.status is expected
    assert request.decided_at == at
