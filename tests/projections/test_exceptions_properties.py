"""Properties of the exception rules and lifecycle over generated order histories and clocks."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections.exception_flow import reconcile
from projections.exceptions import DetectedException, detect, next_check_at
from projections.ordering import canonical_sequence
from projections.timeline import fold
from projections.timeline_model import Timeline
from tests.strategies import BASE, ORDER_ID, REPORT_ID, order_histories
from wismo.events import Event, event_from_dict
from wismo.ids import exception_id
from wismo.settings import ThresholdSettings
from wismo.vocab import ExceptionState, ExceptionType, TrackingStatus

MICRO = timedelta(microseconds=1)
anywhere = st.integers(0, 60 * 24 * 25).map(lambda m: BASE + timedelta(minutes=m))
thresholds = st.builds(
    ThresholdSettings,
    stalled_hours=st.sampled_from([6.0, 48.0]),
    label_unscanned_hours=st.sampled_from([1.0, 24.0]),
    not_shipped_grace_hours=st.sampled_from([0.0, 12.0]),
    refund_overdue_days=st.sampled_from([0.5, 7.0]),
    failed_attempts=st.integers(1, 2),
    late_grace_hours=st.sampled_from([0.0, 6.0]),
)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Order histories, half of them with a ship-by on the delivery group (so fulfilment orders
    can be late to ship)."""
    history = draw(order_histories())
    if draw(st.booleans()):
        ship_by = BASE + timedelta(minutes=draw(st.integers(60, 60 * 48)))
        group = {"group_id": "G1", "ship_by": ship_by.isoformat()}
        change = {
            "event_id": "oms:ship-by",
            "source": "oms",
            "kind": "order.changed",
            "order_id": ORDER_ID,
            "occurred_at": BASE.isoformat(),
            "payload": {"delivery_groups": [group]},
        }
        history.append(event_from_dict(change))
    return history


@st.composite
def clocks(draw: st.DrawFn, history: list[Event]) -> datetime:
    """Anywhere in the order's life, or (more often) shortly after one of its events: deadlines
    are counted from events, so that is where rules fire."""
    if draw(st.integers(0, 3)) == 0:
        return draw(anywhere)
    anchor = draw(st.sampled_from(history)).occurred_at
    return anchor + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10)))


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[Event], datetime]:
    history = draw(histories())
    return history, draw(clocks(history))


def keys(found: list[DetectedException]) -> set[tuple[str, ExceptionType]]:
    return {d.key for d in found}


def settle(events: list[Event], now: datetime, limits: ThresholdSettings) -> list[Event]:
    """The events plus what one reconcile at ``now`` adds."""
    timeline = fold(events, ORDER_ID)
    return [*events, *reconcile(timeline, detect(timeline, now, limits), now)]


def unresolved(timeline: Timeline) -> Counter[tuple[str | None, ExceptionType | None]]:
    return Counter(
        (v.subject, v.type) for v in timeline.exceptions if v.state is not ExceptionState.RESOLVED
    )


@given(scene=scenes(), limits=thresholds, data=st.data())
def test_detect_depends_only_on_the_set_of_events_and_the_clock(
    scene: tuple[list[Event], datetime], limits: ThresholdSettings, data: st.DataObject
) -> None:
    history, now = scene
    copies = [e for e in history for _ in range(data.draw(st.integers(1, 2)))]
    shuffled = data.draw(st.permutations(copies))
    expected = detect(fold(history, ORDER_ID), now, limits)
    assert detect(fold(shuffled, ORDER_ID), now, limits) == expected
    assert detect(fold(history, ORDER_ID), now, limits) == expected


@given(scene=scenes(), limits=thresholds)
def test_reconcile_is_idempotent(
    scene: tuple[list[Event], datetime], limits: ThresholdSettings
) -> None:
    history, now = scene
    timeline = fold(history, ORDER_ID)
    first = reconcile(timeline, detect(timeline, now, limits), now)
    assert reconcile(timeline, detect(timeline, now, limits), now) == first
    settled = settle(history, now, limits)
    assert settle(settled, now, limits) == settled
    # reconciling a copy that already holds some of the events adds only the rest, same ids
    partial = fold([*history, *first[: len(first) // 2]], ORDER_ID)
    rest = reconcile(partial, detect(partial, now, limits), now)
    assert [e.event_id for e in rest] == [e.event_id for e in first[len(first) // 2 :]]


@given(scene=scenes(), limits=thresholds)
def test_after_reconcile_open_exceptions_are_exactly_the_detected_ones(
    scene: tuple[list[Event], datetime], limits: ThresholdSettings
) -> None:
    history, now = scene
    timeline = fold(settle(history, now, limits), ORDER_ID)
    detected = detect(timeline, now, limits)
    assert max(unresolved(timeline).values(), default=0) <= 1
    by_id = {v.exception_id: v for v in timeline.exceptions}
    for found in detected:
        view = by_id[exception_id(ORDER_ID, found.type.value, found.subject)]
        assert view.state is not ExceptionState.RESOLVED
        assert (view.type, view.subject, view.severity) == (
            found.type,
            found.subject,
            found.severity,
        )
    detected_ids = {exception_id(ORDER_ID, d.type.value, d.subject) for d in detected}
    for view in timeline.exceptions:
        assert view.type is not None
        ours = view.exception_id == exception_id(ORDER_ID, view.type.value, view.subject)
        if ours and view.state is not ExceptionState.RESOLVED:
            assert view.exception_id in detected_ids


@given(scene=scenes(), limits=thresholds)
def test_delivered_shipments_have_no_open_late_or_stalled_exception(
    scene: tuple[list[Event], datetime], limits: ThresholdSettings
) -> None:
    history, now = scene
    timeline = fold(settle(history, now, limits), ORDER_ID)
    delivered = {s.shipment_id for s in timeline.shipments if s.status is TrackingStatus.DELIVERED}
    for view in timeline.exceptions:
        if view.subject in delivered and view.type in (
            ExceptionType.LATE_VS_PROMISE,
            ExceptionType.STALLED,
        ):
            assert view.state is ExceptionState.RESOLVED


@given(scene=scenes(), limits=thresholds, data=st.data())
def test_nothing_new_opens_before_next_check_at_and_something_opens_exactly_then(
    scene: tuple[list[Event], datetime], limits: ThresholdSettings, data: st.DataObject
) -> None:
    history, now = scene
    timeline = fold(history, ORDER_ID)
    current = keys(detect(timeline, now, limits))
    upcoming = next_check_at(timeline, now, limits)
    if upcoming is None:
        assert keys(detect(timeline, now + timedelta(days=400), limits)) == current
        return
    assert upcoming > now
    span = int((upcoming - now) / MICRO)
    between = now + MICRO * data.draw(st.integers(0, span - 1))
    assert keys(detect(timeline, between, limits)) == current
    assert keys(detect(timeline, upcoming - MICRO, limits)) == current
    fired = [d for d in detect(timeline, upcoming, limits) if d.key not in current]
    assert fired
    assert {d.due_at for d in fired} == {upcoming}
    assert current <= keys(detect(timeline, upcoming, limits))


@given(history=histories(), limits=thresholds, data=st.data())
def test_a_clock_walking_through_the_history_keeps_the_lifecycle_consistent(
    history: list[Event], limits: ThresholdSettings, data: st.DataObject
) -> None:
    """The sweeper's view: at each moment only the events that already happened are known."""
    moments = sorted(data.draw(st.lists(clocks(history), min_size=1, max_size=6)))
    produced: list[Event] = []
    for now in moments:
        known = [e for e in history if e.occurred_at <= now]
        if not any(e.order_id for e in known):
            continue
        timeline = fold([*known, *produced], ORDER_ID)
        new = reconcile(timeline, detect(timeline, now, limits), now)
        assert {e.event_id for e in new}.isdisjoint({e.event_id for e in produced})
        produced += new
        settled = fold([*known, *produced], ORDER_ID)
        assert reconcile(settled, detect(settled, now, limits), now) == []
        assert max(unresolved(settled).values(), default=0) <= 1
        views = {v.exception_id: v for v in settled.exceptions}
        for found in detect(settled, now, limits):
            view = views[exception_id(ORDER_ID, found.type.value, found.subject)]
            # open, or resolved by a resolution that already covered this occurrence
            if view.state is ExceptionState.RESOLVED:
                assert view.resolved_at is not None
                assert found.due_at <= view.resolved_at
    # the lifecycle survives duplication and reordering of everything
    everything = [*history, *produced]
    shuffled = data.draw(st.permutations([*everything, *everything[::2]]))
    assert fold(shuffled, ORDER_ID).exceptions == fold(everything, ORDER_ID).exceptions
    assert canonical_sequence(shuffled) == canonical_sequence(everything)


@given(scene=scenes(), limits=thresholds)
def test_the_lifecycle_never_touches_a_customer_report(
    scene: tuple[list[Event], datetime], limits: ThresholdSettings
) -> None:
    history, now = scene
    timeline = fold(history, ORDER_ID)
    touched = {
        getattr(e.payload, "exception_id", None)
        for e in reconcile(timeline, detect(timeline, now, limits), now)
    }
    assert REPORT_ID not in touched
    assert ExceptionType.CUSTOMER_REPORTED not in {d.type for d in detect(timeline, now, limits)}
