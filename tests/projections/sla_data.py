"""Generated order histories for the SLA tests (:mod:`bench.orders`), and an independent Python
reference of every KPI.

The reference works from folded timelines and raw events only — never from the fact tables or
the SQL — so a mistake in either shows up as a mismatch.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from bench.orders import SLA, story
from wismo.events import Event

#: the brands the orders take in turn (None: an unbranded order)
BRANDS: tuple[str | None, ...] = ("northwind", "kaffeeberg", None)


def order_brand(index: int) -> str | None:
    return BRANDS[index % len(BRANDS)]


def _branded(event: Event, brand: str | None) -> Event:
    if brand is None or event.kind.value != "order.placed":
        return event
    payload = event.payload.model_copy(update={"brand": brand})
    return event.model_copy(update={"payload": payload})


def order_history(rng: random.Random, index: int) -> list[Event]:
    """Order ``SLA-<index>``: the generator's story in its ``SLA`` mix (lanes abroad, business
    orders, split parcels, every trouble, returns and refunds, exceptions in the log), drawn from
    ``rng``; scans unlinked, as carriers send them. Its order.placed names the brand
    :func:`order_brand` gives it."""
    told = story(index, seed=rng.randrange(1 << 32), mix=SLA, order_id="SLA-{index:05d}")
    return [_branded(event, order_brand(index)) for event in told.events()]


def of_brands(
    timelines: Iterable[dict[str, Any]], brands: frozenset[str] | None
) -> list[dict[str, Any]]:
    """The timelines a report for ``brands`` covers (None: all; ``''``: unbranded orders)."""
    return [t for t in timelines if brands is None or (t.get("brand") or "") in brands]


# --- the reference ----------------------------------------------------------------------------


def percentiles(values: list[float], levels: Iterable[float]) -> list[float | None]:
    """Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC)."""
    ordered = sorted(values)
    out: list[float | None] = []
    for level in levels:
        if not ordered:
            out.append(None)
            continue
        h = (len(ordered) - 1) * level
        low = int(h)
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (h - low) * (ordered[high] - ordered[low]))
    return out


def _t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _place_key(place: dict[str, Any] | None) -> str:
    place = place or {}
    region = place.get("region") or ""
    return (place.get("country") or "?") + (f"-{region}" if region else "")


def shipment_dims(timeline: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    anchor = _t(timeline.get("placed_at")) or _t(s.get("shipped_at"))
    assert anchor is not None
    return {
        "carrier": s.get("carrier") or "",
        "service": s.get("service") or "",
        "lane": f"{_place_key(s.get('origin'))} > {_place_key(s.get('destination'))}",
        "channel": timeline.get("channel") or "",
        "week": (anchor.date() - timedelta(days=anchor.weekday())).isoformat(),
        "day": anchor.date().isoformat(),
        "_anchor": anchor.date(),
    }


def _ship_by(timeline: dict[str, Any], s: dict[str, Any]) -> datetime | None:
    for fo in timeline["fulfilment_orders"]:
        if fo["fulfilment_order_id"] == s.get("fulfilment_order_id") and fo.get("ship_by"):
            return _t(fo["ship_by"])
    for group in timeline["delivery_groups"]:
        if group["group_id"] == s.get("delivery_group_id"):
            return _t(group.get("ship_by"))
    return None


Rate = tuple[int, int]


def _ratio(pair: Rate) -> float | None:
    return pair[0] / pair[1] if pair[1] else None


def delivery_reference(
    timelines: Iterable[dict[str, Any]], start: date, end: date, by: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for timeline in timelines:
        for s in timeline["shipments"]:
            dims = shipment_dims(timeline, s)
            if start <= dims["_anchor"] <= end:
                groups[tuple(dims[name] for name in by)].append((timeline, s))
    return {key: _delivery_kpis(rows) for key, rows in groups.items()}


def _delivery_kpis(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    def rate(hit: Callable[[Any, Any], bool], base: Callable[[Any, Any], bool]) -> float | None:
        considered = [(t, s) for t, s in rows if base(t, s)]
        return _ratio((sum(1 for t, s in considered if hit(t, s)), len(considered)))

    def delivered(t: Any, s: Any) -> bool:
        return bool(s.get("delivered_at"))

    def delivered_day(s: Any) -> date:
        moment = _t(s["delivered_at"])
        assert moment is not None
        return moment.date()

    def spans(
        start_of: Callable[[Any, Any], datetime | None],
        end_of: Callable[[Any, Any], datetime | None],
    ) -> list[float]:
        out = []
        for t, s in rows:
            a, z = start_of(t, s), end_of(t, s)
            if a is not None and z is not None:
                out.append(_hours(a, z))
        return out

    def placed(t: Any, s: Any) -> datetime | None:
        return _t(t.get("placed_at"))

    def delivered_at(t: Any, s: Any) -> datetime | None:
        return _t(s.get("delivered_at"))

    drifts = [
        (_d(s["estimated_delivery"]) - _d(s["carrier_edd_first"])).days  # type: ignore[operator]
        for _, s in rows
        if s.get("carrier_edd_first") and s.get("estimated_delivery")
    ]
    return {
        "shipments": len(rows),
        "delivered": sum(1 for t, s in rows if delivered(t, s)),
        "on_time_vs_promise": rate(
            lambda t, s: delivered_day(s) <= _d(s["promised_delivery_date"]),  # type: ignore[operator]
            lambda t, s: delivered(t, s) and bool(s.get("promised_delivery_date")),
        ),
        "on_time_vs_first_edd": rate(
            lambda t, s: delivered_day(s) <= _d(s["carrier_edd_first"]),  # type: ignore[operator]
            lambda t, s: delivered(t, s) and bool(s.get("carrier_edd_first")),
        ),
        "click_to_door_h": percentiles(spans(placed, delivered_at), (0.5, 0.9, 0.99)),
        "ship_to_door_h": percentiles(
            spans(lambda t, s: _t(s.get("first_scan_at")), delivered_at), (0.5, 0.9, 0.99)
        ),
        "time_to_ship_h": percentiles(
            spans(placed, lambda t, s: _t(s.get("shipped_at"))), (0.5, 0.9, 0.99)
        ),
        "shipped_by_ship_by": rate(
            lambda t, s: _t(s["shipped_at"]) <= _ship_by(t, s),  # type: ignore[operator]
            lambda t, s: bool(s.get("shipped_at")) and _ship_by(t, s) is not None,
        ),
        "first_attempt_success": rate(
            lambda t, s: delivered(t, s) and s["failed_attempts"] == 0,
            lambda t, s: bool(s.get("first_attempt_at")),
        ),
        "exception_rate": _ratio((sum(1 for t, s in rows if _exceptions_of(t, s)), len(rows))),
        "edd_exact_first": rate(
            lambda t, s: delivered_day(s) == _d(s["carrier_edd_first"]),
            lambda t, s: delivered(t, s) and bool(s.get("carrier_edd_first")),
        ),
        "edd_revised_rate": rate(
            lambda t, s: len(s["edd_history"]) > 1, lambda t, s: bool(s.get("carrier_edd_first"))
        ),
        "edd_drift_days": sum(drifts) / len(drifts) if drifts else None,
    }


def _exceptions_of(timeline: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    subjects = {s["shipment_id"], s.get("tracking_number")} - {None}
    return [e for e in timeline["exceptions"] if e.get("subject") in subjects]


def exceptions_reference(
    timelines: Iterable[dict[str, Any]], start: date, end: date, by: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    counts: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for timeline in timelines:
        for s in timeline["shipments"]:
            dims = shipment_dims(timeline, s)
            if not start <= dims["_anchor"] <= end:
                continue
            for e in _exceptions_of(timeline, s):
                key = (*(dims[name] for name in by), e["type"], e.get("reason") or "")
                counts[key].append(timeline["order_id"])
    return {k: {"exceptions": len(v), "orders": len(set(v))} for k, v in counts.items()}


def returns_reference(
    timelines: Iterable[dict[str, Any]],
    events: Iterable[Event],
    start: date,
    end: date,
    by: tuple[str, ...],
) -> dict[tuple[Any, ...], dict[str, Any]]:
    firsts: dict[str, tuple[Any, ...]] = {}
    delivered_orders: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for timeline in timelines:
        if not timeline["shipments"]:
            continue
        first = min(
            timeline["shipments"],
            key=lambda s: (
                _t(s.get("shipped_at")) or _t(timeline.get("placed_at")),
                s["shipment_id"],
            ),
        )
        dims = shipment_dims(timeline, first)
        if not start <= dims["_anchor"] <= end:
            continue
        key = tuple(dims[name] for name in by)
        firsts[timeline["order_id"]] = key
        delivered_orders.setdefault(key, set())
        if any(s.get("delivered_at") for s in timeline["shipments"]):
            delivered_orders[key].add(timeline["order_id"])
    moments: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
    for event in {e.event_id: e for e in events}.values():
        kinds = ("return.authorized", "return.received", "refund.issued")
        if event.kind.value in kinds and event.order_id in firsts:
            return_id = getattr(event.payload, "return_id", None)
            if return_id:
                slot = moments[(event.order_id, return_id)]
                previous = slot.get(event.kind.value)
                if previous is None or event.occurred_at < previous:
                    slot[event.kind.value] = event.occurred_at
    returned: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    waits: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for (order_id, _), slot in moments.items():
        key = firsts[order_id]
        if "return.authorized" in slot or "return.received" in slot:
            returned[key].add(order_id)
        if "return.received" in slot and "refund.issued" in slot:
            waits[key].append(_hours(slot["return.received"], slot["refund.issued"]))
    return {
        key: {
            "delivered_orders": len(orders),
            "returned_orders": len(returned[key]),
            "return_rate": _ratio((len(returned[key]), len(orders))),
            "return_to_refund_h": percentiles(waits[key], (0.5, 0.9)),
        }
        for key, orders in delivered_orders.items()
    }


def dwell_reference(
    events: Iterable[Event], start: date, end: date
) -> dict[tuple[Any, ...], dict[str, Any]]:
    scans: dict[str, list[tuple[datetime, str, str, str]]] = defaultdict(list)
    for event in {e.event_id: e for e in events}.values():
        if event.kind.value != "tracking.checkpoint":
            continue
        location = getattr(event.payload, "location", None)
        place = (location.facility or location.city or "") if location else ""
        if place and event.tracking_number:
            carrier = getattr(event.payload, "carrier", None) or ""
            scans[event.tracking_number].append((event.occurred_at, event.event_id, place, carrier))
    dwell: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for items in scans.values():
        items.sort()
        stays: list[tuple[datetime, str, str]] = []
        for at, _, place, carrier in items:
            if not stays or stays[-1][1] != place:
                stays.append((at, place, carrier))
        for here, there in itertools.pairwise(stays):
            if there[0] > here[0] and start <= here[0].date() <= end:
                dwell[(here[2], here[1])].append(_hours(here[0], there[0]))
    return {
        key: {"stays": len(values), "dwell_h": percentiles(values, (0.5, 0.9))}
        for key, values in dwell.items()
    }


def load_into(client: Any, database: str, orders: int, seed: int) -> list[dict[str, Any]]:
    """Write ``orders`` generated histories the way the warehouse does; returns the timelines."""
    import orjson

    from projections.clickhouse_schema import migrate
    from projections.clickhouse_store import COLUMNS
    from projections.facts import EVENT_COLUMNS, change_rows, event_row
    from projections.serialize import timeline_to_json
    from projections.store import TimelineChange
    from projections.timeline import fold

    migrate(client, database)
    rng = random.Random(seed)
    changes, events, timelines = [], [], []
    for index in range(orders):
        history = order_history(rng, index)
        timeline = fold(history, history[0].order_id)
        document = timeline_to_json(timeline)
        changes.append(
            TimelineChange(
                timeline.order_id,
                timeline.version,
                timeline.digest,
                timeline.status.value,
                document,
            )
        )
        timelines.append(orjson.loads(document))
        events += history
    client.insert(
        "events",
        [event_row(e) for e in events],
        column_names=list(EVENT_COLUMNS),
        database=database,
    )
    for table, rows in change_rows(changes).items():
        if rows:
            client.insert(table, rows, column_names=list(COLUMNS[table]), database=database)
    return timelines
