"""Live estimates: the ``shipment.predicted`` events a timeline needs, how the fold keeps them,
and the ``trending_late`` rule that reads them (opens, hysteresis, resolves)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.exception_flow import reconcile
from projections.exceptions import customer_text, detect
from projections.predict.live import (
    awaits_recheck,
    p_late_step,
    predictions_for_timeline,
)
from projections.predict.model import QUANTILE_LEVELS, Model, build_model
from projections.serialize import timeline_to_json
from projections.timeline import OrderFold, fold
from tests.projections.test_exceptions import SHIPMENT, T0, THRESHOLDS, Story, hours
from wismo.events import Event, EventKind
from wismo.settings import PredictSettings
from wismo.vocab import ExceptionState, ExceptionType, Severity


def linear_model(low: float, high: float) -> Model:
    """A model whose only group says: delivered between ``low`` and ``high`` hours after any
    scan, uniformly."""
    quantiles = [low + (high - low) * q for q in QUANTILE_LEVELS]
    return build_model(
        [("global", "*", 1000, 200, quantiles)],
        created_at=T0,
        trained_from=T0 - timedelta(days=90),
        trained_until=T0,
        min_samples=30,
    )


MODEL = linear_model(24, 120)
PREDICT = PredictSettings(threshold=0.6, clear_threshold=0.4, high_value=250)


def predicted(
    story: Story,
    p_late: float | None,
    *,
    at: datetime,
    as_of: datetime | None = None,
    day: str = "2026-03-05",
) -> Story:
    payload: dict[str, Any] = {
        "shipment_id": SHIPMENT,
        "predicted_delivery": day,
        "window_start": "2026-03-04T08:00:00+00:00",
        "window_end": "2026-03-06T18:00:00+00:00",
        "basis": {"level": "carrier", "key": "ups|in_transit", "samples": 420, "parcels": 90},
        "model_version": "20260301T0000-abc",
        "as_of": (as_of or hours(3)).isoformat(),
    }
    if p_late is not None:
        payload["p_late"] = p_late
        payload["promise"] = "2026-03-05"
    return story.add("shipment.predicted", at, payload)


# the live path -------------------------------------------------------------------------------


def test_an_estimate_is_published_once_and_folded() -> None:
    story = Story().moving()
    now = hours(4)
    first = predictions_for_timeline(story.timeline(), MODEL, now)
    assert [e.kind for e in first] == [EventKind.SHIPMENT_PREDICTED]
    payload: Any = first[0].payload
    # anchor Mon 11:00, deadline Fri 00:00 = 85 h later: P(R > 85 | R > 1) of U(24, 120)
    assert abs(payload.p_late - 35 / 96) < 0.01
    assert payload.promise.isoformat() == "2026-03-05"
    assert payload.as_of == hours(3)
    assert payload.window_start.minute == payload.window_end.minute == 0
    assert payload.window_start <= payload.window_end
    assert (payload.basis.level, payload.basis.samples) == ("global", 1000)
    # recomputing the same estimate adds the same event id
    assert [e.event_id for e in predictions_for_timeline(story.timeline(), MODEL, now)] == [
        first[0].event_id
    ]
    story.events += first
    view = story.timeline().shipments[0].prediction
    assert view is not None
    assert view.event_id == first[0].event_id
    assert b'"prediction":{' in timeline_to_json(story.timeline())
    # unchanged a few minutes later: nothing to publish
    assert predictions_for_timeline(story.timeline(), MODEL, now + timedelta(minutes=20)) == []


def test_a_changed_estimate_replaces_the_held_one() -> None:
    story = Story().moving()
    story.events += predictions_for_timeline(story.timeline(), MODEL, hours(4))
    # two days without a scan: the chance of missing Thursday has grown
    later = predictions_for_timeline(story.timeline(), MODEL, hours(60))
    assert len(later) == 1
    story.events += later
    view = story.timeline().shipments[0].prediction
    assert view is not None
    assert view.p_late is not None
    assert view.p_late > 0.5
    assert view.event_id == later[0].event_id


def test_no_model_no_estimate() -> None:
    story = Story().moving()
    assert predictions_for_timeline(story.timeline(), None, hours(4)) == []


def test_no_estimate_for_a_delivered_or_unshipped_parcel() -> None:
    assert predictions_for_timeline(Story().placed().timeline(), MODEL, hours(4)) == []
    delivered = Story().moving().scan(hours(20), "delivered")
    assert predictions_for_timeline(delivered.timeline(), MODEL, hours(21)) == []


def test_p_late_steps() -> None:
    assert p_late_step(None) is None
    assert p_late_step(0.0) == 0
    assert p_late_step(0.049) == 0
    assert p_late_step(0.05) == 1
    assert p_late_step(1.0) == 20


# the fold ------------------------------------------------------------------------------------

stamps = st.lists(
    st.tuples(st.integers(3, 40), st.integers(0, 30), st.floats(0, 1)), min_size=1, max_size=6
)


@settings(max_examples=60, deadline=None)
@given(stamps, st.randoms(use_true_random=False))
def test_the_newest_prediction_wins_in_any_order(
    points: list[tuple[int, int, float]], shuffler: Any
) -> None:
    story = Story().moving()
    for as_of, later, p in points:
        predicted(story, round(p, 3), at=hours(as_of + later), as_of=hours(as_of))
    events: list[Event] = list(story.events)
    reference = timeline_to_json(fold(events))
    shuffler.shuffle(events)
    assert timeline_to_json(fold(events + events[:2])) == reference
    view = fold(events).shipments[0].prediction
    assert view is not None
    newest = max((hours(a), hours(a + b)) for a, b, _ in points)
    assert (view.as_of, view.computed_at) == newest


def test_a_prediction_before_its_shipment_lands_on_it() -> None:
    story = Story().placed()
    predicted(story, 0.2, at=hours(1), as_of=hours(1))
    story.fulfilment().shipped()
    view = story.timeline().shipments[0].prediction
    assert view is not None
    assert view.p_late == 0.2


# the trending_late rule ----------------------------------------------------------------------


def trending(story: Story, now: datetime) -> list[Any]:
    return [
        d
        for d in detect(story.timeline(), now, THRESHOLDS, PREDICT)
        if d.type.value == "trending_late"
    ]


def test_trending_late_opens_at_the_threshold_only() -> None:
    assert trending(predicted(Story().moving(), 0.55, at=hours(5)), hours(6)) == []
    assert trending(predicted(Story().moving(), None, at=hours(5)), hours(6)) == []
    found = trending(predicted(Story().moving(), 0.62, at=hours(5)), hours(6))
    assert len(found) == 1
    assert found[0].subject == SHIPMENT
    assert found[0].due_at == hours(5)
    assert found[0].severity is Severity.LOW
    assert "62% chance" in found[0].message
    assert "420 scans" in found[0].message
    assert found[0].customer_text == customer_text(ExceptionType.TRENDING_LATE, None)


def test_severity_by_probability_and_order_value() -> None:
    assert trending(predicted(Story().moving(), 0.8, at=hours(5)), hours(6))[0].severity is (
        Severity.MEDIUM
    )
    assert trending(predicted(Story().moving(), 0.95, at=hours(5)), hours(6))[0].severity is (
        Severity.HIGH
    )
    story = Story().moving()
    story.add("order.changed", hours(1), {"total_amount": "300.00"})
    assert story.timeline().total_amount == Decimal("300.00")
    assert trending(predicted(story, 0.7, at=hours(5)), hours(6))[0].severity is Severity.MEDIUM
    assert trending(predicted(story, 0.97, at=hours(6)), hours(7))[0].severity is Severity.HIGH


def _state(story: Story) -> ExceptionState | None:
    views = [v for v in story.timeline().exceptions if v.type is ExceptionType.TRENDING_LATE]
    return views[0].state if views else None


def _reconcile(story: Story, now: datetime) -> None:
    timeline = story.timeline()
    story.events += reconcile(timeline, detect(timeline, now, THRESHOLDS, PREDICT), now)


def test_the_defaults_have_a_hysteresis() -> None:
    predict = PredictSettings()
    assert 0 < predict.clear_threshold < predict.threshold <= 0.6


def test_hysteresis_then_self_resolution() -> None:
    story = predicted(Story().moving(), 0.7, at=hours(5))
    _reconcile(story, hours(5))
    assert _state(story) is ExceptionState.OPEN
    # below the opening threshold but above the clearing one: stays open
    predicted(story, 0.45, at=hours(8), as_of=hours(7))
    _reconcile(story, hours(8))
    assert _state(story) is ExceptionState.OPEN
    # below the clearing threshold: resolves itself
    predicted(story, 0.3, at=hours(10), as_of=hours(9))
    _reconcile(story, hours(10))
    assert _state(story) is ExceptionState.RESOLVED
    # 0.45 again does not re-open it (it is not open any more)
    predicted(story, 0.45, at=hours(12), as_of=hours(11))
    _reconcile(story, hours(12))
    assert _state(story) is ExceptionState.RESOLVED
    # crossing the threshold again re-opens the same exception
    predicted(story, 0.65, at=hours(14), as_of=hours(13))
    _reconcile(story, hours(14))
    assert _state(story) is ExceptionState.OPEN


def test_delivery_resolves_it() -> None:
    story = predicted(Story().moving(), 0.9, at=hours(5))
    _reconcile(story, hours(5))
    assert _state(story) is ExceptionState.OPEN
    story.scan(hours(30), "delivered")
    _reconcile(story, hours(30))
    assert _state(story) is ExceptionState.RESOLVED


def test_late_vs_promise_takes_over() -> None:
    story = predicted(Story().moving(), 0.9, at=hours(5))
    _reconcile(story, hours(5))
    # the promised day (Thursday) is over: late_vs_promise, and no more trending_late
    after = datetime(2026, 3, 6, 1, 0, tzinfo=UTC)
    found = {d.type for d in detect(story.timeline(), after, THRESHOLDS, PREDICT)}
    assert ExceptionType.LATE_VS_PROMISE in found
    assert ExceptionType.TRENDING_LATE not in found
    _reconcile(story, after)
    assert _state(story) is ExceptionState.RESOLVED


def test_customer_text_promises_nothing() -> None:
    text = customer_text(ExceptionType.TRENDING_LATE, None)
    assert "may arrive later than promised" in text
    assert "will arrive" not in text


def test_the_clock_looks_again_only_until_the_promised_day_is_over() -> None:
    story = Story().moving()
    story.events += predictions_for_timeline(story.timeline(), MODEL, hours(4))
    timeline = story.timeline()
    assert awaits_recheck(timeline, MODEL, hours(5))
    assert not awaits_recheck(timeline, None, hours(5))
    assert not awaits_recheck(timeline, MODEL, datetime(2026, 3, 6, tzinfo=UTC))
    delivered = story.scan(hours(20), "delivered").timeline()
    assert not awaits_recheck(delivered, MODEL, hours(21))


@settings(max_examples=40, deadline=None)
@given(stamps)
def test_live_traffic_continues_the_fold_exactly(points: list[tuple[int, int, float]]) -> None:
    """Estimates arriving after everything folded continue the fold (the timeline agent's fast
    path) and give what folding everything from scratch gives."""
    story = Story().moving()
    base = list(story.events)
    for as_of, later, p in points:
        predicted(story, round(p, 3), at=hours(40 + as_of + later), as_of=hours(as_of))
    continued = OrderFold.of(base)
    new = story.events[len(base) :]
    assert continued.extend(new)
    assert timeline_to_json(continued.timeline) == timeline_to_json(fold(story.events))
