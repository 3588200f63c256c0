"""Prometheus metrics of a stream worker, on a registry of its own (one per app, so tests and
benchmarks can run several apps in one process).

Freshness is end-to-end: when the timeline agent has applied an event, ``now - occurred_at``
(how stale the fact is for the customer) and ``now - received_at`` (how long wismo took).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from projections.store import TimelineChange
from wismo.events import Event, EventKind

_BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_FRESHNESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400, 7 * 86400)
_HAS_NOTES = b'"data_quality":[{'


@dataclass
class StreamMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_in = Counter(
            "wismo_events_in", "Events read by an agent", ["agent", "kind"], registry=r
        )
        self.events_out = Counter(
            "wismo_events_out", "Messages an agent published", ["agent", "topic"], registry=r
        )
        self.dead_letters = Counter(
            "wismo_dead_letters", "Messages sent to the dead-letter topic", ["source"], registry=r
        )
        self.unmapped_codes = Counter(
            "wismo_unmapped_codes", "Carrier codes without a mapping", ["source"], registry=r
        )
        self.parked = Counter(
            "wismo_scans_parked", "Tracking events parked until their shipment", registry=r
        )
        self.released = Counter(
            "wismo_scans_released", "Parked tracking events released to their order", registry=r
        )
        self.direct_scans = Counter(
            "wismo_scans_direct",
            "Tracking events of a linked number sent by normalise straight to their order",
            registry=r,
        )
        self.batch_size = Histogram(
            "wismo_batch_size", "Events per batch", ["agent"], buckets=_BATCH_BUCKETS, registry=r
        )
        self.apply_seconds = Histogram(
            "wismo_apply_seconds",
            "Time to apply one batch to a store",
            ["store"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "wismo_store_retries", "Transient store failures retried", ["store"], registry=r
        )
        self.freshness_occurred = Histogram(
            "wismo_freshness_occurred_seconds",
            "now - occurred_at when an event reached the timeline",
            buckets=_FRESHNESS_BUCKETS,
            registry=r,
        )
        self.freshness_received = Histogram(
            "wismo_freshness_received_seconds",
            "now - received_at when an event reached the timeline",
            buckets=_FRESHNESS_BUCKETS,
            registry=r,
        )
        self.data_quality = Counter(
            "wismo_timeline_data_quality",
            "Events a timeline note flags (code unknown_line: a fulfilment order or shipment "
            "event naming a line its order does not list), counted once, when it is flagged",
            ["code"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "wismo_consumer_lag", "Messages not yet consumed", ["topic", "partition"], registry=r
        )
        self.stalled = Gauge(
            "wismo_watchdog_stalled", "1 when lag > 0 but offsets stopped moving", registry=r
        )

    def observe_freshness(self, events: Iterable[Event], now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        for event in events:
            self.freshness_occurred.observe(max((now - event.occurred_at).total_seconds(), 0.0))
            if event.received_at is not None:
                delay = (now - event.received_at).total_seconds()
                self.freshness_received.observe(max(delay, 0.0))

    def count_data_quality(
        self, changes: Sequence[TimelineChange], events: Sequence[Event]
    ) -> None:
        """Count the events the ``data_quality`` notes of the timelines ``events`` just changed
        flag: those of the batch, and all of a note's events when the order itself was placed
        in the batch (its lines arrived after the fulfilment). A replayed batch changes no
        timeline, so nothing is counted twice."""
        flagged = [change for change in changes if _HAS_NOTES in change.timeline]
        if not flagged:
            return
        batch: dict[str, set[str]] = {}
        placed: set[str] = set()
        for event in events:
            if event.order_id is not None:
                batch.setdefault(event.order_id, set()).add(event.event_id)
                if event.kind is EventKind.ORDER_PLACED:
                    placed.add(event.order_id)
        for change in flagged:
            arrived = batch.get(change.order_id, set())
            for note in orjson.loads(change.timeline)["data_quality"]:
                named = set(note["event_ids"])
                counted = named if change.order_id in placed else named & arrived
                if counted:
                    self.data_quality.labels(note["code"]).inc(len(counted))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
