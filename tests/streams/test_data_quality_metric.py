"""The timeline worker counts each event a data-quality note flags once: when the note first
shows on the timeline, whether the fulfilment or the order arrived last; refolds that keep the
note and replayed batches add nothing."""

from __future__ import annotations

from projections.serialize import timeline_to_json
from projections.store import TimelineChange
from projections.timeline import fold
from streams.metrics import StreamMetrics
from tests.projections.test_timeline import ORDER, ev, placed, shipped
from wismo.events import Event

STRAY = [{"line_id": "Z", "quantity": 1}]


def _change(events: list[Event]) -> TimelineChange:
    timeline = fold(events)
    return TimelineChange(
        ORDER, timeline.version, timeline.digest, timeline.status, timeline_to_json(timeline)
    )


def _flagged(metrics: StreamMetrics) -> float:
    value = metrics.registry.get_sample_value(
        "wismo_timeline_data_quality_total", {"code": "unknown_line"}
    )
    return value or 0.0


def test_fulfilment_after_the_order_is_counted_once() -> None:
    metrics = StreamMetrics()
    order, stray = placed(), shipped("1ZAAA0001", STRAY)
    metrics.count_data_quality([_change([order])], [order])
    assert _flagged(metrics) == 0
    metrics.count_data_quality([_change([order, stray])], [stray])
    assert _flagged(metrics) == 1
    later = ev("payment.captured", 3, payment_id="P1", amount="10.00")
    metrics.count_data_quality([_change([order, stray, later])], [later])
    metrics.count_data_quality([], [later])  # a replay: the store changed nothing
    assert _flagged(metrics) == 1


def test_order_after_its_fulfilments_counts_every_flagged_event() -> None:
    metrics = StreamMetrics()
    first = shipped("1ZAAA0001", STRAY, shipment_id="S1")
    second = shipped("1ZAAA0002", STRAY, shipment_id="S2")
    metrics.count_data_quality([_change([first, second])], [first, second])
    assert _flagged(metrics) == 0  # no order yet: nothing to judge against
    order = placed()
    metrics.count_data_quality([_change([first, second, order])], [order])
    assert _flagged(metrics) == 2


def test_the_metric_is_exposed() -> None:
    metrics = StreamMetrics()
    order, stray = placed(), shipped("1ZAAA0001", STRAY)
    metrics.count_data_quality([_change([order, stray])], [order, stray])
    assert b'wismo_timeline_data_quality_total{code="unknown_line"} 1.0' in metrics.exposition()
