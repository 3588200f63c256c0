"""The delivery-estimate model: features, the versioned artefact, and the estimate. Pure.

What is learned: for every scan of every delivered parcel in the training window, the hours from
that scan to the delivery scan ("remaining hours"), grouped by the parcel's :class:`Features` at
that scan. Each group keeps the empirical distribution of those hours as quantiles
(:data:`QUANTILE_LEVELS`), with its sample size (scans) and how many parcels they came from.

Thin data falls back: a parcel's group is looked up at each :class:`Level` in turn — the full key,
then without the weekday, without the service, without the regions, the carrier alone (with the
status), the status alone, and finally every scan of every parcel — and the first group trained
on at least ``min_samples`` scans answers. The estimate says which (:class:`Basis`).

The estimate is conditional on what is known at ``now``: the parcel is not delivered yet, so the
remaining time from its last scan is at least the time elapsed since; the distribution is cut
there (``P(R > x | R > elapsed)``). A parcel that has waited longer than nearly every parcel of
its group (:data:`SURVIVAL_FLOOR`) is estimated as if its group's distribution started again now,
and says so (``beyond_history``).

Times are UTC; "late" is delivered after the end (UTC) of the promised day plus a grace, the same
deadline as the ``late_vs_promise`` exception (:func:`projections.exceptions.promise_deadline`).
The model knows nothing of parcels that never arrive (lost, returned): it answers "when, if it is
delivered".
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import orjson

from projections.timeline_model import ShipmentView
from wismo.payloads import Place
from wismo.vocab import TrackingStatus

#: the artefact's JSON layout; a reader refuses others
FORMAT = 1
#: quantile levels of every stored distribution: 0, 0.05, …, 1
QUANTILE_LEVELS: tuple[float, ...] = tuple(round(n / 20, 2) for n in range(21))
#: days-in-transit buckets are 0, 1, …, DAYS_CAP (the last means "DAYS_CAP days or more")
DAYS_CAP = 4
#: below this chance of still being on the way, the elapsed time is beyond the group's history
SURVIVAL_FLOOR = 0.02
#: the window of an estimate: these quantiles of the remaining time
WINDOW = (0.1, 0.9)


class StatusBucket(StrEnum):
    """The tracking statuses the model tells apart (terminal ones get no estimate)."""

    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    EXCEPTION = "exception"
    OUT_FOR_DELIVERY = "out_for_delivery"
    PICKUP = "pickup"


_BUCKETS: dict[TrackingStatus, StatusBucket] = {
    TrackingStatus.UNKNOWN: StatusBucket.IN_TRANSIT,
    TrackingStatus.PENDING: StatusBucket.PRE_TRANSIT,
    TrackingStatus.INFO_RECEIVED: StatusBucket.PRE_TRANSIT,
    TrackingStatus.IN_TRANSIT: StatusBucket.IN_TRANSIT,
    TrackingStatus.EXCEPTION: StatusBucket.EXCEPTION,
    TrackingStatus.ATTEMPT_FAIL: StatusBucket.EXCEPTION,
    TrackingStatus.OUT_FOR_DELIVERY: StatusBucket.OUT_FOR_DELIVERY,
    TrackingStatus.AVAILABLE_FOR_PICKUP: StatusBucket.PICKUP,
}


def status_bucket(status: TrackingStatus) -> StatusBucket | None:
    """The model's bucket for a tracking status; ``None`` for delivered, returned, expired."""
    return _BUCKETS.get(status)


def days_bucket(hours_in_transit: float) -> int:
    """Whole days since the parcel shipped, capped at :data:`DAYS_CAP`."""
    return min(max(int(hours_in_transit // 24), 0), DAYS_CAP)


def _clean(value: str | None) -> str:
    return (value or "").replace("|", "/")


def region(place: Place | None) -> str:
    """A lane end: ``country-region`` (``FR-IDF``), the country alone when no region is known,
    empty when nothing is."""
    if place is None:
        return ""
    country, area = _clean(place.country), _clean(place.region)
    return f"{country}-{area}" if area else country


class Level(StrEnum):
    """How specific a group is; :data:`LEVELS` is the fall-back order."""

    FULL = "full"
    NO_WEEKDAY = "no_weekday"
    NO_SERVICE = "no_service"
    NO_REGIONS = "no_regions"
    CARRIER = "carrier"
    STATUS = "status"
    GLOBAL = "global"


LEVELS: tuple[Level, ...] = tuple(Level)
#: the :class:`Features` fields each level groups by
LEVEL_FIELDS: dict[Level, tuple[str, ...]] = {
    Level.FULL: ("carrier", "service", "origin", "destination", "status", "days", "weekday"),
    Level.NO_WEEKDAY: ("carrier", "service", "origin", "destination", "status", "days"),
    Level.NO_SERVICE: ("carrier", "origin", "destination", "status", "days"),
    Level.NO_REGIONS: ("carrier", "status", "days"),
    Level.CARRIER: ("carrier", "status"),
    Level.STATUS: ("status",),
    Level.GLOBAL: (),
}


@dataclass(frozen=True, slots=True)
class Features:
    """What the model knows of a parcel at one scan.

    ``origin`` and ``destination`` are :func:`region` values, ``days`` a :func:`days_bucket`,
    ``weekday`` the ISO weekday (1 = Monday) of the scan, in UTC.
    """

    carrier: str
    service: str
    origin: str
    destination: str
    status: StatusBucket
    days: int
    weekday: int

    def key(self, level: Level) -> str:
        """The group key at ``level``: the level's fields joined by ``|`` (``*`` for global)."""
        fields = LEVEL_FIELDS[level]
        if not fields:
            return "*"
        return "|".join(_clean(str(getattr(self, name))) for name in fields)


@dataclass(frozen=True, slots=True)
class Distribution:
    """The remaining hours of one group: quantiles at :data:`QUANTILE_LEVELS` (non-decreasing),
    from ``samples`` scans of ``parcels`` parcels."""

    samples: int
    parcels: int
    hours: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.hours) != len(QUANTILE_LEVELS):
            raise ValueError(f"a distribution needs {len(QUANTILE_LEVELS)} quantiles")
        if any(b < a for a, b in zip(self.hours, self.hours[1:], strict=False)):
            raise ValueError("quantiles must not decrease")

    def cdf(self, hours: float) -> float:
        """P(R <= hours), linear between the stored quantiles."""
        q = self.hours
        if hours < q[0]:
            return 0.0
        if hours >= q[-1]:
            return 1.0
        i = bisect.bisect_right(q, hours) - 1
        low, high = QUANTILE_LEVELS[i], QUANTILE_LEVELS[i + 1]
        return low + (high - low) * (hours - q[i]) / (q[i + 1] - q[i])

    def survival(self, hours: float) -> float:
        """P(R > hours)."""
        return 1.0 - self.cdf(hours)

    def quantile(self, p: float) -> float:
        """The hours by which a share ``p`` of the group was delivered."""
        p = min(max(p, 0.0), 1.0)
        steps = len(QUANTILE_LEVELS) - 1
        i = min(int(p * steps), steps - 1)
        low = QUANTILE_LEVELS[i]
        share = (p - low) * steps
        return self.hours[i] + (self.hours[i + 1] - self.hours[i]) * min(max(share, 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class Basis:
    """What an estimate rests on: the group that answered and how much data it had."""

    level: Level
    key: str
    samples: int
    parcels: int
    model_version: str


@dataclass(frozen=True, slots=True)
class Forecast:
    """The remaining time of one parcel from ``anchor`` (its last scan), given that it was not
    delivered by ``now``."""

    distribution: Distribution
    basis: Basis
    anchor: datetime
    now: datetime

    @property
    def elapsed_hours(self) -> float:
        return max(0.0, (self.now - self.anchor).total_seconds() / 3600)

    @property
    def beyond_history(self) -> bool:
        """The parcel has waited longer than nearly all of its group did."""
        return self.distribution.survival(self.elapsed_hours) < SURVIVAL_FLOOR

    def hours(self, p: float) -> float:
        """The ``p`` quantile of the remaining hours from the anchor, given ``R > elapsed``."""
        d, elapsed = self.distribution, self.elapsed_hours
        if self.beyond_history:
            return elapsed + d.quantile(p)
        alive = d.survival(elapsed)
        return max(elapsed, d.quantile(1.0 - (1.0 - p) * alive))

    def at(self, p: float) -> datetime:
        return self.anchor + timedelta(hours=self.hours(p))

    def chance_after(self, moment: datetime) -> float:
        """P(delivered after ``moment`` | not delivered by now), in [0, 1]."""
        x = (moment - self.anchor).total_seconds() / 3600
        elapsed = self.elapsed_hours
        if x <= elapsed:
            return 1.0
        d = self.distribution
        if self.beyond_history:
            return min(1.0, max(0.0, d.survival(x - elapsed)))
        return min(1.0, max(0.0, d.survival(x) / d.survival(elapsed)))


@dataclass(frozen=True, slots=True)
class Estimate:
    """wismo's delivery estimate for one parcel at ``now``.

    ``predicted_at`` is the median instant (its UTC day is ``predicted_date``); the window holds
    80 % of the outcomes of comparable parcels (:data:`WINDOW`); ``p_late`` is the chance of
    delivery after ``promise`` (``None`` without a promise).
    """

    predicted_at: datetime
    predicted_date: date
    window_start: datetime
    window_end: datetime
    p_late: float | None
    promise: date | None
    basis: Basis
    computed_at: datetime
    beyond_history: bool


@dataclass(frozen=True, slots=True)
class Model:
    """A trained, versioned artefact: per level and group key, a :class:`Distribution`.

    ``trained_from``/``trained_until`` bound the delivery times of the parcels learned from;
    only groups with at least ``min_samples`` scans are kept, the global group always.
    """

    version: str
    created_at: datetime
    trained_from: datetime
    trained_until: datetime
    min_samples: int
    groups: Mapping[Level, Mapping[str, Distribution]] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        """Scans learned from (the global group's sample size)."""
        top = self.groups.get(Level.GLOBAL, {}).get("*")
        return top.samples if top else 0

    @property
    def parcels(self) -> int:
        top = self.groups.get(Level.GLOBAL, {}).get("*")
        return top.parcels if top else 0

    def group_count(self) -> int:
        return sum(len(keys) for keys in self.groups.values())


def build_model(
    rows: list[tuple[str, str, int, int, list[float]]],
    *,
    created_at: datetime,
    trained_from: datetime,
    trained_until: datetime,
    min_samples: int,
) -> Model:
    """A model from ``(level, key, samples, parcels, quantiles)`` rows (the training query's);
    groups under ``min_samples`` are dropped, except the global one."""
    groups: dict[Level, dict[str, Distribution]] = {level: {} for level in LEVELS}
    for level_name, key, samples, parcels, quantiles in rows:
        level = Level(level_name)
        if samples <= 0 or (samples < min_samples and level is not Level.GLOBAL):
            continue
        # to the stored precision (a model equals its JSON), never decreasing
        hours = tuple(round(float(h), 3) for h in quantiles)
        hours = tuple(max(hours[: n + 1]) for n in range(len(hours)))
        groups[level][key] = Distribution(int(samples), int(parcels), hours)
    digest = hashlib.sha256(
        orjson.dumps(_groups_json(groups), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()[:10]
    version = f"{trained_until.astimezone(UTC):%Y%m%dT%H%M}-{digest}"
    return Model(version, created_at, trained_from, trained_until, min_samples, groups)


def lookup(model: Model, features: Features) -> tuple[Distribution, Basis] | None:
    """The most specific group with data for ``features`` (see :data:`LEVELS`)."""
    for level in LEVELS:
        key = features.key(level)
        found = model.groups.get(level, {}).get(key)
        if found is not None and (found.samples >= model.min_samples or level is Level.GLOBAL):
            return found, Basis(level, key, found.samples, found.parcels, model.version)
    return None


def forecast(model: Model, features: Features, anchor: datetime, now: datetime) -> Forecast | None:
    found = lookup(model, features)
    if found is None:
        return None
    distribution, basis = found
    return Forecast(distribution, basis, anchor, max(now, anchor))


def promise_deadline(promise: date, grace_hours: float = 0.0) -> datetime:
    """The end (UTC) of the promised day plus the grace: delivered after it is late."""
    end_of_day = datetime.combine(promise + timedelta(days=1), time(0), tzinfo=UTC)
    return end_of_day + timedelta(hours=grace_hours)


def p_late(outlook: Forecast, promise: date, grace_hours: float = 0.0) -> float:
    """P(delivered after the promised day, plus grace | not delivered by the forecast's now)."""
    return outlook.chance_after(promise_deadline(promise, grace_hours))


def features_of(shipment: ShipmentView) -> tuple[Features, datetime] | None:
    """The features of a parcel as it stands, with the moment they describe (its last scan, or
    its shipping before any scan); ``None`` when it is no longer on its way or never shipped."""
    bucket = status_bucket(shipment.status)
    anchor = shipment.last_checkpoint_at or shipment.shipped_at
    if bucket is None or anchor is None:
        return None
    start = shipment.shipped_at or shipment.first_scan_at or anchor
    features = Features(
        carrier=_clean(shipment.carrier),
        service=_clean(shipment.service),
        origin=region(shipment.origin),
        destination=region(shipment.destination),
        status=bucket,
        days=days_bucket((anchor - start).total_seconds() / 3600),
        weekday=anchor.astimezone(UTC).isoweekday(),
    )
    return features, anchor


def estimate_from(outlook: Forecast, promise: date | None, grace_hours: float = 0.0) -> Estimate:
    """The :class:`Estimate` of a forecast."""
    predicted = outlook.at(0.5)
    return Estimate(
        predicted_at=predicted,
        predicted_date=predicted.astimezone(UTC).date(),
        window_start=outlook.at(WINDOW[0]),
        window_end=outlook.at(WINDOW[1]),
        p_late=None if promise is None else p_late(outlook, promise, grace_hours),
        promise=promise,
        basis=outlook.basis,
        computed_at=outlook.now,
        beyond_history=outlook.beyond_history,
    )


def estimate(
    model: Model,
    shipment: ShipmentView,
    now: datetime,
    promise: date | None = None,
    *,
    grace_hours: float = 0.0,
) -> Estimate | None:
    """wismo's estimate for ``shipment`` at ``now``; ``promise`` defaults to the shipment's
    promised date. ``None`` when the parcel is not on its way (delivered, returned, not shipped)
    or the model has no data at all."""
    found = features_of(shipment)
    if found is None:
        return None
    features, anchor = found
    outlook = forecast(model, features, anchor, now)
    if outlook is None:
        return None
    return estimate_from(outlook, promise or shipment.promised_delivery_date, grace_hours)


# JSON ------------------------------------------------------------------------------------------


def _groups_json(groups: Mapping[Level, Mapping[str, Distribution]]) -> dict[str, Any]:
    return {
        level.value: {
            key: [d.samples, d.parcels, [round(h, 3) for h in d.hours]]
            for key, d in sorted(keys.items())
        }
        for level, keys in groups.items()
    }


def model_to_json(model: Model) -> bytes:
    """The artefact as JSON bytes (what is stored and shipped to the workers)."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "version": model.version,
            "created_at": model.created_at.isoformat(),
            "trained_from": model.trained_from.isoformat(),
            "trained_until": model.trained_until.isoformat(),
            "min_samples": model.min_samples,
            "quantile_levels": list(QUANTILE_LEVELS),
            "groups": _groups_json(model.groups),
        }
    )


def model_from_json(data: bytes | str) -> Model:
    """The artefact back from :func:`model_to_json`; ``ValueError`` when it is not one."""
    try:
        document = orjson.loads(data)
        if document.get("format") != FORMAT:
            raise ValueError(f"unknown model format {document.get('format')!r}")
        if tuple(document["quantile_levels"]) != QUANTILE_LEVELS:
            raise ValueError("the model's quantile levels differ from this version's")
        groups = {
            Level(level): {
                key: Distribution(int(n), int(p), tuple(float(h) for h in hours))
                for key, (n, p, hours) in keys.items()
            }
            for level, keys in document["groups"].items()
        }
        return Model(
            version=str(document["version"]),
            created_at=datetime.fromisoformat(document["created_at"]),
            trained_from=datetime.fromisoformat(document["trained_from"]),
            trained_until=datetime.fromisoformat(document["trained_until"]),
            min_samples=int(document["min_samples"]),
            groups=groups,
        )
    except (KeyError, TypeError, orjson.JSONDecodeError) as error:
        raise ValueError(f"not a prediction model: {error}") from error
