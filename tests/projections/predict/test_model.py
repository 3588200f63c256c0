"""The pure delivery-estimate model: fall-backs, conditioning on time waited, probabilities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.predict.model import (
    LEVELS,
    QUANTILE_LEVELS,
    Distribution,
    Features,
    Level,
    Model,
    StatusBucket,
    build_model,
    estimate,
    features_of,
    forecast,
    model_from_json,
    model_to_json,
    p_late,
    promise_deadline,
    region,
)
from projections.timeline_model import ShipmentView
from wismo.payloads import Place
from wismo.vocab import TrackingStatus

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # a Monday
FEATURES = Features("ups", "ground", "GB", "FR-IDF", StatusBucket.IN_TRANSIT, 1, 1)


def _quantiles(values: list[float]) -> list[float]:
    values = sorted(values)
    return [values[round(q * (len(values) - 1))] for q in QUANTILE_LEVELS]


def _model(rows: list[tuple[str, str, int, int, list[float]]], min_samples: int = 30) -> Model:
    return build_model(
        rows,
        created_at=T0,
        trained_from=T0 - timedelta(days=90),
        trained_until=T0,
        min_samples=min_samples,
    )


hours_lists = st.lists(st.floats(0, 400, allow_nan=False), min_size=1, max_size=60)
distributions = hours_lists.map(lambda h: Distribution(len(h), len(h), tuple(_quantiles(h))))


def test_fall_back_order_and_min_samples() -> None:
    fast, slow = _quantiles([10.0, 12.0, 14.0]), _quantiles([50.0, 60.0, 70.0])
    rows = [
        ("full", FEATURES.key(Level.FULL), 5, 2, fast),  # too thin: dropped
        ("no_service", FEATURES.key(Level.NO_SERVICE), 40, 12, slow),
        ("global", "*", 3, 1, fast),  # thin, but the global group is always kept
    ]
    model = _model(rows)
    assert FEATURES.key(Level.FULL) not in model.groups[Level.FULL]
    outlook = forecast(model, FEATURES, T0, T0)
    assert outlook is not None
    assert outlook.basis.level is Level.NO_SERVICE
    assert outlook.basis.key == "ups|GB|FR-IDF|in_transit|1"
    assert (outlook.basis.samples, outlook.basis.parcels) == (40, 12)
    other = Features("dhl", "express", "DE", "GB", StatusBucket.PICKUP, 0, 7)
    fallback = forecast(model, other, T0, T0)
    assert fallback is not None
    assert fallback.basis.level is Level.GLOBAL
    assert fallback.basis.model_version == model.version


def test_no_data_no_estimate() -> None:
    assert forecast(_model([]), FEATURES, T0, T0) is None


def test_conditioning_on_time_waited() -> None:
    model = _model([("global", "*", 100, 50, _quantiles([float(h) for h in range(101)]))])
    fresh = forecast(model, FEATURES, T0, T0)
    later = forecast(model, FEATURES, T0, T0 + timedelta(hours=60))
    assert fresh is not None
    assert later is not None
    assert fresh.hours(0.5) == pytest.approx(50.0)
    assert later.hours(0.5) == pytest.approx(80.0)  # the median of what is left above 60 h
    assert later.chance_after(T0 + timedelta(hours=59)) == 1.0
    beyond = forecast(model, FEATURES, T0, T0 + timedelta(hours=150))
    assert beyond is not None
    assert beyond.beyond_history
    assert beyond.hours(0.5) == pytest.approx(200.0)


def test_estimate_of_a_shipment() -> None:
    model = _model([("status", "out_for_delivery", 50, 50, _quantiles([2.0, 4.0, 6.0, 8.0]))])
    shipment = ShipmentView(
        "SH-1",
        carrier="ups",
        service="ground",
        status=TrackingStatus.OUT_FOR_DELIVERY,
        shipped_at=T0 - timedelta(days=2),
        last_checkpoint_at=T0,
        promised_delivery_date=T0.date(),
        origin=Place(country="GB"),
        destination=Place(country="FR", region="IDF"),
    )
    found = features_of(shipment)
    assert found is not None
    assert found[0] == Features(
        "ups", "ground", "GB", "FR-IDF", StatusBucket.OUT_FOR_DELIVERY, 2, 1
    )
    result = estimate(model, shipment, T0 + timedelta(hours=1))
    assert result is not None
    assert result.predicted_date == T0.date()
    assert result.window_start <= result.predicted_at <= result.window_end
    assert result.p_late == 0.0
    assert result.promise == T0.date()
    assert result.basis.level is Level.STATUS
    shipment.status = TrackingStatus.DELIVERED
    assert estimate(model, shipment, T0) is None


def test_region() -> None:
    assert region(None) == ""
    assert region(Place(country="GB")) == "GB"
    assert region(Place(country="FR", region="IDF")) == "FR-IDF"


def test_json_round_trip() -> None:
    rows = [
        (level.value, FEATURES.key(level), 40 + n, 10, _quantiles([1.0, 5.0 + n, 9.0 + n]))
        for n, level in enumerate(LEVELS)
    ]
    model = _model(rows)
    again = model_from_json(model_to_json(model))
    assert again == model
    assert again.samples == 40 + len(LEVELS) - 1
    with pytest.raises(ValueError, match="format"):
        model_from_json(b'{"format": 99}')
    with pytest.raises(ValueError, match="not a prediction model"):
        model_from_json(b'{"format": 1}')


@given(distributions, st.floats(0, 500), st.floats(0, 1), st.floats(0, 1))
def test_window_ordered_and_probabilities_bounded(
    d: Distribution, waited: float, p: float, q: float
) -> None:
    model = _model([("global", "*", d.samples, d.parcels, list(d.hours))])
    outlook = forecast(model, FEATURES, T0, T0 + timedelta(hours=waited))
    assert outlook is not None
    low, high = sorted((p, q))
    assert outlook.hours(low) <= outlook.hours(high) + 1e-9
    assert outlook.hours(low) >= outlook.elapsed_hours - 1e-9
    assert 0.0 <= outlook.chance_after(T0 + timedelta(hours=waited * p)) <= 1.0


@given(distributions, st.floats(0, 300), st.integers(-5, 20), st.integers(0, 20))
def test_p_late_monotone_in_the_promise(
    d: Distribution, waited: float, first: int, later_by: int
) -> None:
    model = _model([("global", "*", d.samples, d.parcels, list(d.hours))])
    outlook = forecast(model, FEATURES, T0, T0 + timedelta(hours=waited))
    assert outlook is not None
    early = T0.date() + timedelta(days=first)
    late = early + timedelta(days=later_by)
    assert 0.0 <= p_late(outlook, late) <= p_late(outlook, early) <= 1.0
    if promise_deadline(early) <= outlook.now:
        assert p_late(outlook, early) == 1.0


@given(
    distributions,
    st.sampled_from(list(Level)),
    st.builds(
        Features,
        st.sampled_from(["ups", "dhl", "a|b"]),
        st.sampled_from(["ground", "express", ""]),
        st.sampled_from(["GB", "FR-ARA", ""]),
        st.sampled_from(["GB-SCT", "DE-BY"]),
        st.sampled_from(list(StatusBucket)),
        st.integers(0, 4),
        st.integers(1, 7),
    ),
)
def test_fall_back_always_answers_with_global_data(
    d: Distribution, level: Level, features: Features
) -> None:
    rows = [("global", "*", d.samples, d.parcels, list(d.hours))]
    rows.append((level.value, "ups|ground|GB|GB-SCT|in_transit|1|1", 100, 20, list(d.hours)))
    result = forecast(_model(rows), features, T0, T0)
    assert result is not None
    assert result.basis.samples >= 1


def test_promise_deadline() -> None:
    assert promise_deadline(date(2026, 5, 4)) == datetime(2026, 5, 5, tzinfo=UTC)
    assert promise_deadline(date(2026, 5, 4), 6) == datetime(2026, 5, 5, 6, tzinfo=UTC)
