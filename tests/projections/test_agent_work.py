"""Agents' work on exceptions as events: who may assign, refusals, ids, and what the fold makes
of them; the supervisors' team queue and the queue's assignee / escalation filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.agent_index import (
    UNASSIGNED,
    ExceptionQuery,
    exception_rows,
    select_exceptions,
    team_queue,
)
from projections.agent_work import (
    Actor,
    Unchanged,
    add_note,
    assign,
    bulk_action,
    escalate,
    message_customer,
)
from projections.exception_flow import Refusal, agent_action
from projections.notify.agent_messages import AgentTemplate
from projections.serialize import queue_source
from projections.timeline import fold
from projections.timeline_model import Timeline
from tests.api.conftest import example_order
from wismo.events import Event, EventKind

ORDER = "ORD-1001"
EXC = "exc:late-sh2"
OPENED = datetime(2026, 3, 5, 14, tzinfo=UTC)
NOW = datetime(2026, 3, 6, 9, tzinfo=UTC)
ALICE, BOB = Actor("alice"), Actor("bob")
SUPERVISOR = Actor("sue", supervisor=True)


def history() -> list[Event]:
    """The example order while its exception is still open."""
    return [e for e in example_order() if e.kind != "exception.resolved"]


def timeline(*more: Event) -> Timeline:
    return fold([*history(), *more], ORDER)


def event(outcome: object) -> Event:
    assert not isinstance(outcome, (Refusal, Unchanged)), outcome
    return outcome  # type: ignore[return-value]


def held_by(assignee: str | None) -> Timeline:
    if assignee is None:
        return timeline()
    return timeline(event(assign(timeline(), EXC, assignee, actor=SUPERVISOR, now=NOW)))


# ---- assignment ---------------------------------------------------------------------------

PEOPLE = st.sampled_from([None, "alice", "bob"])


@given(actor=st.sampled_from([ALICE, SUPERVISOR]), current=PEOPLE, wanted=PEOPLE)
def test_who_may_assign_and_what_the_fold_makes_of_it(
    actor: Actor, current: str | None, wanted: str | None
) -> None:
    before = held_by(current)
    outcome = assign(before, EXC, wanted, actor=actor, now=NOW)
    allowed = actor.supervisor or (current in (None, "alice") and wanted in (None, "alice"))
    if not allowed:
        assert isinstance(outcome, Refusal)
        assert outcome.status == 403
    elif wanted == current:
        assert isinstance(outcome, Unchanged)
    else:
        assigned = event(outcome)
        assert assigned.kind is EventKind.EXCEPTION_ASSIGNED
        assert assigned.source == "agent"
        assert assigned.payload.by == actor.agent_id
        (view,) = fold([*history(), *_assignments(before), assigned], ORDER).exceptions
        assert (view.assignee, view.assigned_by) == (wanted, actor.agent_id)


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from([ALICE, BOB, SUPERVISOR]),
            PEOPLE,
            st.integers(-3600, 3600),  # each API process's clock may be off
        ),
        max_size=8,
    ),
    order=st.randoms(use_true_random=False),
)
def test_the_latest_accepted_assignment_wins_whatever_the_clocks_and_arrival_order(
    steps: list[tuple[Actor, str | None, int]], order: Any
) -> None:
    made: list[Event] = []
    expected: str | None = None
    for actor, wanted, skew in steps:
        outcome = assign(
            timeline(*made), EXC, wanted, actor=actor, now=NOW + timedelta(seconds=skew)
        )
        if isinstance(outcome, Refusal | Unchanged):
            continue
        made.append(outcome)
        expected = wanted
    arrived = list(made)
    order.shuffle(arrived)
    assert fold([*history(), *arrived], ORDER).exceptions[0].assignee == expected


def _assignments(t: Timeline) -> list[Event]:
    view = t.exceptions[0]
    if view.assignee is None:
        return []
    return [event(assign(timeline(), EXC, view.assignee, actor=SUPERVISOR, now=NOW))]


def test_take_give_back_and_take_again_are_three_events_and_a_repeat_is_one() -> None:
    take = event(assign(timeline(), EXC, "alice", actor=ALICE, now=NOW))
    assert event(assign(timeline(), EXC, "alice", actor=ALICE, now=NOW)).event_id == take.event_id
    later = NOW + timedelta(minutes=1)
    give_back = event(assign(timeline(take), EXC, None, actor=ALICE, now=later))
    again = event(
        assign(timeline(take, give_back), EXC, "alice", actor=ALICE, now=later + timedelta(1))
    )
    assert len({take.event_id, give_back.event_id, again.event_id}) == 3
    assert fold([*history(), take, give_back, again], ORDER).exceptions[0].assignee == "alice"
    # the first click already folded: the second changes nothing
    assert isinstance(assign(timeline(take), EXC, "alice", actor=ALICE, now=later), Unchanged)


def test_an_idempotency_key_names_the_event() -> None:
    first = event(assign(timeline(), EXC, "alice", actor=ALICE, now=NOW, key="k-1"))
    retried = event(assign(timeline(), EXC, "alice", actor=ALICE, now=NOW, key="k-1"))
    other = event(assign(timeline(), EXC, "alice", actor=ALICE, now=NOW, key="k-2"))
    assert first.event_id == retried.event_id != other.event_id
    by_bob = event(assign(timeline(), EXC, "bob", actor=BOB, now=NOW, key="k-1"))
    assert by_bob.event_id != first.event_id  # a key is the actor's own


def test_refusals_unknown_and_resolved() -> None:
    unknown = assign(timeline(), "exc:nope", "alice", actor=ALICE, now=NOW)
    assert isinstance(unknown, Refusal)
    assert unknown.status == 404
    resolved = timeline(event(agent_action(timeline(), EXC, "resolve", by="x", note=None, now=NOW)))
    for outcome in (
        assign(resolved, EXC, "alice", actor=ALICE, now=NOW),
        escalate(resolved, EXC, "angry customer", None, actor=ALICE, now=NOW),
    ):
        assert isinstance(outcome, Refusal)
        assert outcome.status == 409


def test_an_action_is_never_dated_before_what_it_acts_on() -> None:
    early = OPENED - timedelta(days=2)  # a server clock behind the exception
    for outcome in (
        assign(timeline(), EXC, "alice", actor=ALICE, now=early),
        escalate(timeline(), EXC, "why", None, actor=ALICE, now=early),
        add_note(timeline(), "hi", exception_id=EXC, actor=ALICE, now=early),
    ):
        made = event(outcome)
        assert made.occurred_at == OPENED
        assert made.received_at == early


# ---- escalation, notes, messages ----------------------------------------------------------


def test_escalation_stands_once_and_its_reason_is_in_the_notes() -> None:
    up = event(escalate(timeline(), EXC, " customer called twice ", "sue", actor=ALICE, now=NOW))
    after = timeline(up)
    view = after.exceptions[0]
    assert (view.escalated_by, view.escalation_reason, view.escalated_to) == (
        "alice",
        "customer called twice",
        "sue",
    )
    assert [(n.action, n.text) for n in after.notes] == [("escalate", "customer called twice")]
    same = escalate(after, EXC, "customer called twice", "sue", actor=ALICE, now=NOW)
    assert isinstance(same, Unchanged)
    other = escalate(after, EXC, "another reason", None, actor=BOB, now=NOW)
    assert isinstance(other, Refusal)
    assert other.status == 409


def test_notes_are_appended_with_deterministic_ids() -> None:
    on_order = event(
        add_note(timeline(), "called the customer", exception_id=None, actor=ALICE, now=NOW)
    )
    later = NOW + timedelta(seconds=1)
    on_exc = event(add_note(timeline(), "DHL will retry", exception_id=EXC, actor=BOB, now=later))
    repeat = event(add_note(timeline(), "DHL will retry", exception_id=EXC, actor=BOB, now=later))
    assert repeat.event_id == on_exc.event_id
    assert on_exc.payload.note_id.startswith("n_")
    assert len(on_exc.payload.note_id) == 18
    after = timeline(on_order, on_exc, repeat)
    assert [(n.exception_id, n.by, n.text) for n in after.notes] == [
        (None, "alice", "called the customer"),
        (EXC, "bob", "DHL will retry"),
    ]
    assert after.exceptions[0].notes_count == 1
    unknown = add_note(timeline(), "x", exception_id="exc:nope", actor=ALICE, now=NOW)
    assert isinstance(unknown, Refusal)
    assert unknown.status == 404


def test_a_customer_message_names_a_known_template() -> None:
    templates = {"agent_update": AgentTemplate("agent_update", "An update")}
    sent = event(
        message_customer(
            timeline(), "agent_update", "On its way", exception_id=EXC, actor=ALICE, now=NOW,
            templates=templates,
        )
    )  # fmt: skip
    assert sent.kind is EventKind.CUSTOMER_MESSAGED
    assert sent.payload.message_id.startswith("m_")
    (kept,) = timeline(sent).messages
    assert (kept.template, kept.by, kept.text, kept.exception_id) == (
        "agent_update",
        "alice",
        "On its way",
        EXC,
    )
    unknown = message_customer(
        timeline(), "agent_nope", None, exception_id=None, actor=ALICE, now=NOW, templates=templates
    )
    assert isinstance(unknown, Refusal)
    assert unknown.status == 404
    wordless = message_customer(
        timeline(), "agent_need_info", None, exception_id=None, actor=ALICE, now=NOW
    )
    assert isinstance(wordless, Refusal)
    assert wordless.status == 422


# ---- bulk ---------------------------------------------------------------------------------


def test_bulk_is_agent_action_per_exception() -> None:
    t = timeline()
    outcomes = dict(
        bulk_action({EXC: t, "exc:gone": None}, "acknowledge", by="alice", note="seen", now=NOW)
    )
    single = event(agent_action(t, EXC, "acknowledge", by="alice", note="seen", now=NOW))
    assert event(outcomes[EXC]).event_id == single.event_id
    missing = outcomes["exc:gone"]
    assert isinstance(missing, Refusal)
    assert missing.status == 404


# ---- the queue ----------------------------------------------------------------------------


def rows_of(t: Timeline) -> list[dict[str, object]]:
    return exception_rows(queue_source(t))


def test_rows_carry_assignee_escalation_and_notes() -> None:
    taken = event(assign(timeline(), EXC, "alice", actor=ALICE, now=NOW))
    up = event(escalate(timeline(), EXC, "twice", None, actor=ALICE, now=NOW))
    (row,) = rows_of(timeline(taken, up))
    assert (row["assignee"], row["escalated"], row["escalation_reason"]) == ("alice", True, "twice")
    assert row["case_number"] is None
    (plain,) = rows_of(timeline())
    assert (plain["assignee"], plain["escalated"]) == (None, False)


@pytest.mark.parametrize(
    ("assignee", "escalated", "expected"),
    [
        (None, None, {"a1", "b1", "u1", "u2"}),
        ("alice", None, {"a1"}),
        (UNASSIGNED, None, {"u1", "u2"}),
        (None, True, {"b1", "u2"}),
        (UNASSIGNED, False, {"u1"}),
    ],
)
def test_queue_filters_by_assignee_and_escalation(
    assignee: str | None, escalated: bool | None, expected: set[str]
) -> None:
    rows = _rows()
    query = ExceptionQuery(assignee=assignee, escalated=escalated)
    assert {r["exception_id"] for r in select_exceptions(rows, query, NOW)} == expected


def _rows() -> list[dict[str, object]]:
    def row(exc_id: str, assignee: str | None, escalated: bool, hours: float) -> dict[str, object]:
        opened = (NOW - timedelta(hours=hours)).isoformat()
        return {
            "exception_id": exc_id,
            "state": "open",
            "severity": "high",
            "opened_at": opened,
            "assignee": assignee,
            "escalated": escalated,
        }

    done = row("r1", "alice", False, 50) | {"state": "resolved"}
    return [
        row("a1", "alice", False, 1),
        row("b1", "bob", True, 30),
        row("u1", None, False, 2),
        row("u2", None, True, 5.5),
        done,
    ]


def test_team_queue_oldest_first_with_counts_per_assignee() -> None:
    queue = team_queue(_rows(), NOW)
    assert [r["exception_id"] for r in queue["exceptions"]] == ["b1", "u2", "u1", "a1"]
    assert queue["exceptions"][0]["age_s"] == 30 * 3600
    assert (queue["total"], queue["unassigned"]) == (4, 2)
    assert [
        (g["assignee"], g["count"], g["escalated"], g["oldest_age_s"]) for g in queue["assignees"]
    ] == [
        ("alice", 1, 0, 3600.0),
        ("bob", 1, 1, 30 * 3600.0),
        (None, 2, 1, 5.5 * 3600),
    ]
    grouped = team_queue(_rows(), NOW, by_assignee=True)["exceptions"]
    assert [r["exception_id"] for r in grouped] == ["a1", "b1", "u2", "u1"]
