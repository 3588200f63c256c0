"""Live estimates: which ``shipment.predicted`` events a timeline needs now. Pure.

For every shipment still on its way, :func:`predictions_for_timeline` asks the current model
(:mod:`projections.predict.model`) for its estimate and returns a ``shipment.predicted`` event
only when the estimate differs from the one the timeline holds in what people see: the predicted
day, the window (to the hour) or the chance of being late (in steps of :data:`P_LATE_STEP`).
Recomputing an unchanged estimate therefore publishes nothing, and a repeated computation of a
changed one yields the same event id (a hash of the order, the shipment, the model version, the
scan it was computed from, what it says and the prediction it replaces), so the fold keeps one.

:class:`ModelCache` keeps the parsed model of a worker and asks its loader for the newest
artefact again every ``refresh_s``; without an artefact there is no model and no estimate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from projections.exceptions import ARRIVED_OR_GONE
from projections.predict.model import (
    Estimate,
    Model,
    estimate,
    model_from_json,
    promise_deadline,
    status_bucket,
)
from projections.timeline_model import PredictionView, ShipmentView, Timeline
from wismo.events import Event, EventKind, event_from_dict
from wismo.ids import natural_event_id

PREDICTION_SOURCE = "wismo"
#: p_late is compared in steps of this size: a smaller move is not news
P_LATE_STEP = 0.05
log = logging.getLogger(__name__)

Signature = tuple[date, datetime, datetime, int | None]
"""What a prediction says that matters: day, window (whole hours) and p_late step."""


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def p_late_step(p_late: float | None) -> int | None:
    """The step of ``p_late`` (``None`` stays ``None``)."""
    if p_late is None:
        return None
    return min(math.floor(p_late / P_LATE_STEP + 1e-9), round(1 / P_LATE_STEP))


def signature_of(found: Estimate) -> Signature:
    """An estimate as it is published: the window widened to whole hours."""
    return (
        found.predicted_date,
        _floor_hour(found.window_start),
        _ceil_hour(found.window_end),
        p_late_step(found.p_late),
    )


def held_signature(view: PredictionView | None) -> Signature | None:
    if view is None:
        return None
    return (view.predicted_delivery, view.window_start, view.window_end, p_late_step(view.p_late))


def prediction_event(
    order_id: str, shipment: ShipmentView, found: Estimate, now: datetime
) -> Event:
    """The ``shipment.predicted`` event of ``found`` (see the module's note on its id)."""
    day, start, end, step = signature_of(found)
    as_of = _as_of(shipment, found)
    previous = shipment.prediction.event_id if shipment.prediction else None
    kind = EventKind.SHIPMENT_PREDICTED.value
    basis = found.basis
    payload = {
        "shipment_id": shipment.shipment_id,
        "tracking_number": shipment.tracking_number,
        "predicted_delivery": day.isoformat(),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "p_late": None if found.p_late is None else round(found.p_late, 4),
        "promise": None if found.promise is None else found.promise.isoformat(),
        "basis": {
            "level": basis.level.value,
            "key": basis.key,
            "samples": basis.samples,
            "parcels": basis.parcels,
        },
        "model_version": basis.model_version,
        "as_of": as_of.isoformat(),
        "beyond_history": found.beyond_history,
    }
    event_id = natural_event_id(
        PREDICTION_SOURCE,
        kind,
        order_id,
        shipment.shipment_id,
        basis.model_version,
        as_of,
        day,
        start,
        end,
        step,
        previous,
    )
    return event_from_dict(
        {
            "event_id": event_id,
            "source": PREDICTION_SOURCE,
            "kind": kind,
            "order_id": order_id,
            "tracking_number": shipment.tracking_number,
            "occurred_at": now.isoformat(),
            "received_at": now.isoformat(),
            "payload": {k: v for k, v in payload.items() if v is not None},
        }
    )


def _as_of(shipment: ShipmentView, found: Estimate) -> datetime:
    """The scan the estimate starts from (its anchor): the last scan, or the shipping."""
    anchor = shipment.last_checkpoint_at or shipment.shipped_at
    return anchor if anchor is not None else found.computed_at


def predictions_for_timeline(
    timeline: Timeline, model: Model | None, now: datetime, *, grace_hours: float = 0.0
) -> list[Event]:
    """The ``shipment.predicted`` events ``timeline`` needs at ``now``: one per shipment on its
    way whose estimate changed; none without a model, for a cancelled order, or for parcels
    delivered, returned or not shipped."""
    if model is None or timeline.cancelled:
        return []
    events: list[Event] = []
    for shipment in timeline.shipments:
        found = estimate(model, shipment, now, grace_hours=grace_hours)
        if found is None or signature_of(found) == held_signature(shipment.prediction):
            continue
        events.append(prediction_event(timeline.order_id, shipment, found, now))
    return events


def awaits_recheck(
    timeline: Timeline, model: Model | None, now: datetime, *, grace_hours: float = 0.0
) -> bool:
    """Whether the timeline has a parcel on its way, estimated, whose promised day is not over
    yet: its chance of being late grows with the clock alone, so the sweeper looks again later
    (after the promised day, ``late_vs_promise`` speaks instead)."""
    if model is None or timeline.cancelled:
        return False
    return any(
        s.prediction is not None
        and s.promised_delivery_date is not None
        and s.status not in ARRIVED_OR_GONE
        and status_bucket(s.status) is not None
        and now < promise_deadline(s.promised_delivery_date, grace_hours)
        for s in timeline.shipments
    )


ModelLoader = Callable[[], Awaitable[bytes | str | None]]
"""Fetches the newest model artefact (its JSON), or ``None`` when none was trained."""


class ModelCache:
    """The current model of one worker, fetched again every ``refresh_s``.

    A loader that fails or returns something that is not a model leaves the model it had (or
    none): estimates pause rather than crash the worker.
    """

    def __init__(self, loader: ModelLoader, refresh_s: float) -> None:
        self.loader = loader
        self.refresh_s = refresh_s
        self.model: Model | None = None
        self._loaded_at: datetime | None = None

    async def current(self, now: datetime) -> Model | None:
        due = self._loaded_at is None or (now - self._loaded_at).total_seconds() >= self.refresh_s
        if not due:
            return self.model
        self._loaded_at = now
        try:
            document = await self.loader()
        except Exception as error:  # any store failure only pauses estimates
            log.warning("could not load the prediction model: %s", error)
            return self.model
        if document is None:
            self.model = None
            return None
        try:
            loaded = model_from_json(document)
        except ValueError as error:
            log.warning("ignoring a prediction model that does not decode: %s", error)
            return self.model
        if self.model is None or loaded.version != self.model.version:
            log.info("prediction model %s loaded", loaded.version)
        self.model = loaded
        return loaded
