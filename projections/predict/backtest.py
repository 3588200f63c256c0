"""Scoring a model on parcels it never saw: the backtest's numbers. Pure.

Every scan of a test parcel is a moment an estimate is made (the live side estimates on every
scan). At each, three predictions of the delivery are compared with what happened:

* **wismo**: the model's median (:func:`projections.predict.model.forecast`);
* **carrier**: the carrier's EDD as known at that scan (only where the carrier gave one);
* **naive**: shipping time plus the carrier's median transit time in the training window.

Errors are absolute, in hours: for a day (an EDD, a predicted date) against the delivery's UTC
day, 24 per day off; for an instant (wismo's median, the naive instant), the hours between it and
the delivery. P(late) is scored on the scans made before the promise was missed: reliability in
deciles and the Brier score, beside a constant forecast of the test's own late rate. Trending
late is the first such scan with P(late) at or above the threshold; its lead is the hours from it
to the deadline, for the parcels that were late.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any

from projections.predict.model import Features, Model, forecast, p_late, promise_deadline


@dataclass(frozen=True, slots=True)
class HeldOutScan:
    """One scan of a test parcel: what was known then, and when it was delivered."""

    parcel: str
    features: Features
    at: datetime
    delivered: datetime
    start_at: datetime | None
    promise: date | None
    edd_then: date | None


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    count: int
    mean_p: float
    observed: float


@dataclass(slots=True)
class BacktestReport:
    model_version: str
    train_samples: int
    train_parcels: int
    samples: int = 0
    parcels: int = 0
    mae_hours: dict[str, float | None] = field(default_factory=dict)
    compared: dict[str, int] = field(default_factory=dict)
    window_coverage: float | None = None
    basis_levels: dict[str, int] = field(default_factory=dict)
    brier: float | None = None
    brier_constant: float | None = None
    calibration: list[Bin] = field(default_factory=list)
    calibrated_samples: int = 0
    trending: dict[str, Any] = field(default_factory=dict)
    train_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "train": {
                "samples": self.train_samples,
                "parcels": self.train_parcels,
                "seconds": self.train_seconds,
            },
            "test": {"samples": self.samples, "parcels": self.parcels},
            "mae_hours": self.mae_hours,
            "compared": self.compared,
            "window_coverage_p10_p90": self.window_coverage,
            "basis_levels": self.basis_levels,
            "p_late": {
                "samples": self.calibrated_samples,
                "brier": self.brier,
                "brier_constant": self.brier_constant,
                "reliability": [
                    {
                        "p": f"{b.low:.1f}-{b.high:.1f}",
                        "count": b.count,
                        "mean_p": b.mean_p,
                        "observed": b.observed,
                    }
                    for b in self.calibration
                ],
            },
            "trending_late": self.trending,
        }


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def _day_error(predicted: date, actual: datetime) -> float:
    return abs((predicted - actual.astimezone(UTC).date()).days) * 24.0


def _hours(a: datetime, b: datetime) -> float:
    return abs((a - b).total_seconds()) / 3600


def score(
    model: Model,
    samples: Sequence[HeldOutScan],
    baseline_hours: Mapping[str, float],
    *,
    threshold: float,
    grace_hours: float = 0.0,
) -> BacktestReport:
    """The backtest's numbers for ``model`` on ``samples`` (ordered by parcel, then time).
    ``baseline_hours`` is the naive median transit per carrier, ``"*"`` for any other."""
    report = BacktestReport(model.version, model.samples, model.parcels)
    errors: dict[str, list[float]] = {
        name: []
        for name in ("wismo", "wismo_day", "naive", "naive_day", "carrier_day", "wismo_day_edd")
    }
    inside, levels = 0, Counter[str]()
    probabilities: list[tuple[float, bool]] = []
    lead: dict[str, list[float]] = {"late": [], "carrier": []}
    late_parcels = flagged_late = on_time = false_alarms = carrier_flagged = 0
    fallback = baseline_hours.get("*")
    for _, group in groupby(samples, key=lambda s: s.parcel):
        scans = list(group)
        report.parcels += 1
        first_flag: datetime | None = None
        first_carrier_flag: datetime | None = None
        for sample in scans:
            outlook = forecast(model, sample.features, sample.at, sample.at)
            if outlook is None:
                continue
            report.samples += 1
            levels[outlook.basis.level.value] += 1
            predicted = outlook.at(0.5)
            errors["wismo"].append(_hours(predicted, sample.delivered))
            wismo_day = _day_error(predicted.astimezone(UTC).date(), sample.delivered)
            errors["wismo_day"].append(wismo_day)
            inside += outlook.at(0.1) <= sample.delivered <= outlook.at(0.9)
            typical = baseline_hours.get(sample.features.carrier, fallback)
            if typical is not None and sample.start_at is not None:
                naive = sample.start_at + timedelta(hours=typical)
                errors["naive"].append(_hours(naive, sample.delivered))
                errors["naive_day"].append(
                    _day_error(naive.astimezone(UTC).date(), sample.delivered)
                )
            if sample.edd_then is not None:
                errors["carrier_day"].append(_day_error(sample.edd_then, sample.delivered))
                errors["wismo_day_edd"].append(wismo_day)
            if sample.promise is None:
                continue
            deadline = promise_deadline(sample.promise, grace_hours)
            if sample.at >= deadline:
                continue
            late = sample.delivered > deadline
            chance = p_late(outlook, sample.promise, grace_hours)
            probabilities.append((chance, late))
            if first_flag is None and chance >= threshold:
                first_flag = sample.at
            if first_carrier_flag is None and (
                sample.edd_then is not None and sample.edd_then > sample.promise
            ):
                first_carrier_flag = sample.at
        promise = scans[0].promise
        if promise is None:
            continue
        deadline = promise_deadline(promise, grace_hours)
        if scans[0].delivered > deadline:
            late_parcels += 1
            if first_flag is not None:
                flagged_late += 1
                lead["late"].append(_hours(deadline, first_flag))
            if first_carrier_flag is not None:
                carrier_flagged += 1
                lead["carrier"].append(_hours(deadline, first_carrier_flag))
        else:
            on_time += 1
            false_alarms += first_flag is not None
    report.mae_hours = {
        "wismo": _mean(errors["wismo"]),
        "naive": _mean(errors["naive"]),
        "wismo_date": _mean(errors["wismo_day"]),
        "naive_date": _mean(errors["naive_day"]),
        "carrier_edd_date": _mean(errors["carrier_day"]),
        "wismo_date_where_carrier_edd": _mean(errors["wismo_day_edd"]),
    }
    report.compared = {
        "wismo": len(errors["wismo"]),
        "naive": len(errors["naive"]),
        "carrier_edd": len(errors["carrier_day"]),
    }
    report.window_coverage = round(inside / report.samples, 3) if report.samples else None
    report.basis_levels = dict(sorted(levels.items()))
    _calibrate(report, probabilities)
    report.trending = {
        "threshold": threshold,
        "late_parcels": late_parcels,
        "flagged_before_deadline": flagged_late,
        "recall": round(flagged_late / late_parcels, 3) if late_parcels else None,
        "lead_hours_median": _median(lead["late"]),
        "lead_hours_mean": _mean(lead["late"]),
        "on_time_parcels": on_time,
        "false_alarms": false_alarms,
        "false_alarm_rate": round(false_alarms / on_time, 3) if on_time else None,
        "precision": round(flagged_late / (flagged_late + false_alarms), 3)
        if flagged_late + false_alarms
        else None,
        "carrier_edd_flagged": carrier_flagged,
        "carrier_edd_lead_hours_median": _median(lead["carrier"]),
    }
    return report


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _calibrate(report: BacktestReport, probabilities: Sequence[tuple[float, bool]]) -> None:
    report.calibrated_samples = len(probabilities)
    if not probabilities:
        return
    report.brier = round(statistics.fmean((p - late) ** 2 for p, late in probabilities), 4)
    rate = statistics.fmean(late for _, late in probabilities)
    report.brier_constant = round(rate * (1 - rate), 4)
    for decile in range(10):
        low, high = decile / 10, (decile + 1) / 10
        members = [(p, late) for p, late in probabilities if low <= p < high or (p == 1 == high)]
        if members:
            report.calibration.append(
                Bin(
                    low,
                    high,
                    len(members),
                    round(statistics.fmean(p for p, _ in members), 3),
                    round(statistics.fmean(late for _, late in members), 3),
                )
            )
