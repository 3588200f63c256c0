"""Erasure of customers' and agents' own words: every self-service event anonymised is still a
valid event, and the refolded timeline keeps what happened but none of what was written."""

from __future__ import annotations

from typing import Any

import orjson

from projections.anonymise import REDACTED, anonymise
from projections.serialize import timeline_to_json
from projections.timeline import fold
from wismo.events import Event, event_from_dict, event_to_dict

ORDER = "ORD-ERASE"
WORDS = "Jane Quixote at 12 Long Lane"  # what a customer or an agent might write


def _event(kind: str, minute: int, payload: dict[str, Any], source: str = "agent") -> Event:
    return event_from_dict(
        {
            "event_id": f"{source}:{kind}:{minute}",
            "source": source,
            "kind": kind,
            "order_id": ORDER,
            "occurred_at": f"2026-03-05T10:{minute:02d}:00Z",
            "payload": payload,
        }
    )


REPORT = "cr_0123456789abcdef"
EVENTS = [
    _event("order.placed", 0, {"order_number": "1001", "lines": [{"line_id": "L1"}]}, "oms"),
    _event(
        "problem.reported",
        1,
        {
            "exception_id": REPORT,
            "problem": "damaged",
            "text": WORDS,
            "lines": [{"line_id": "L1", "quantity": 1}],
            "attachment": {
                "ref": "0123456789abcdef0123456789abcdef.jpg",
                "content_type": "image/jpeg",
                "size_bytes": 10,
                "sha256": "cd" * 32,
            },
        },
        "customer",
    ),
    _event(
        "return.requested",
        2,
        {
            "return_id": "rr_0123456789abcdef",
            "reason": WORDS,
            "lines": [{"line_id": "L1", "quantity": 1, "reason": WORDS}],
        },
        "customer",
    ),
    _event(
        "cancel.requested", 3, {"request_id": "cq_0123456789abcdef", "reason": WORDS}, "customer"
    ),
    _event("cancel.rejected", 4, {"request_id": "cq_0123456789abcdef", "note": WORDS}, "oms"),
    _event("note.added", 5, {"note_id": "n_0123456789abcdef", "text": WORDS, "by": "agent-7"}),
    _event("exception.escalated", 6, {"exception_id": REPORT, "reason": WORDS, "by": "agent-7"}),
    _event(
        "customer.messaged",
        7,
        {"message_id": "m_0123456789abcdef", "template": "apology", "by": "agent-7", "text": WORDS},
    ),
    _event("exception.resolved", 8, {"exception_id": REPORT, "by": "agent-7", "note": WORDS}),
    _event("shipment.linked", 9, {"tracking_number": "1ZLINK0001", "by": "agent-7", "note": WORDS}),
]


def _erased() -> list[Event]:
    return [event_from_dict(anonymise(event_to_dict(e), [], {})) for e in EVENTS]


def test_every_action_anonymised_is_a_valid_event_without_the_words() -> None:
    erased = _erased()
    assert [e.event_id for e in erased] == [e.event_id for e in EVENTS]
    for event in erased:
        assert WORDS not in orjson.dumps(event_to_dict(event)).decode(), event.kind


def test_the_refolded_timeline_keeps_what_happened_but_not_what_was_written() -> None:
    before, after = fold(EVENTS), fold(_erased())
    assert WORDS in timeline_to_json(before).decode()
    assert WORDS not in timeline_to_json(after).decode()
    (report,) = after.exceptions
    assert (report.problem, report.message, report.attachment) == (
        before.exceptions[0].problem,
        REDACTED,
        None,
    )
    assert report.reported_lines == {"L1": 1}
    assert report.escalated_by == "agent-7"
    assert [(n.action, n.text) for n in after.notes] == [("note", REDACTED), ("escalate", REDACTED)]
    assert [(m.template, m.text) for m in after.messages] == [("apology", None)]
    (request,) = after.cancel_requests
    assert (request.status, request.reason, request.note) == (
        before.cancel_requests[0].status,
        None,
        None,
    )
    (returned,) = after.returns
    assert (returned.status, returned.lines, returned.line_reasons) == (
        before.returns[0].status,
        {"L1": 1},
        {},
    )
    assert [s.linked_by for s in after.shipments] == ["agent-7"]
