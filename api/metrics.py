"""Prometheus metrics of one API application, on a registry of its own (several apps can share a
process in tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "wismo_api_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "wismo_api_request_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.webhooks = Counter(
            "wismo_api_webhooks",
            "Webhook deliveries by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.ws_connections = Gauge(
            "wismo_api_ws_connections", "Open websocket connections", ["channel"], registry=r
        )
        self.ws_dropped = Counter(
            "wismo_api_ws_dropped",
            "Websocket clients disconnected for not keeping up",
            registry=r,
        )
        self.push_latency = Histogram(
            "wismo_api_push_seconds",
            "Time from a Redis publish reaching this process to the frame being written",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
