"""``wismo up``'s one live status line: read from the worker's ``/metrics`` (cheap: one local
scrape per tick), redrawn in place on a terminal, a plain line every ten seconds otherwise."""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from prometheus_client.parser import text_string_to_metric_families

from streams.logs import WarningTally

#: seconds between two lines when the output is not a terminal
PLAIN_EVERY_S = 10.0
TTY_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class Reading:
    """What the status line says, as counted since the worker started."""

    events: float = 0.0  # events the busiest agent read
    orders: float = 0.0
    exceptions: float = 0.0  # exceptions open: opened less resolved, as the agents read them
    lag: float = 0.0


def reading(metrics_text: str) -> Reading:
    """The counts in a Prometheus text exposition of the worker's metrics."""
    by_agent: dict[str, float] = {}
    kinds: dict[tuple[str, str], float] = {}
    lag = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "wismo_events_in_total":
                agent, kind = sample.labels.get("agent", ""), sample.labels.get("kind", "")
                by_agent[agent] = by_agent.get(agent, 0.0) + sample.value
                kinds[agent, kind] = kinds.get((agent, kind), 0.0) + sample.value
            elif sample.name == "wismo_consumer_lag":
                lag += sample.value

    def most(kind: str) -> float:
        return max((n for (_, k), n in kinds.items() if k == kind), default=0.0)

    return Reading(
        events=max(by_agent.values(), default=0.0),
        orders=most("order.placed"),
        exceptions=max(most("exception.opened") - most("exception.resolved"), 0.0),
        lag=lag,
    )


def line(
    now: Reading,
    before: Reading,
    seconds: float,
    messages: int,
    warnings: int,
    log_path: str,
    extra: str = "",
) -> str:
    """The status line: the rate between two readings, the counts of the later one, the
    messages the development sinks received, ``extra`` (e.g. the dropped webhooks healed) and
    the warnings logged."""
    rate = max(now.events - before.events, 0.0) / seconds if seconds > 0 else 0.0
    text = (
        f"{rate:6.1f} events/s · {now.orders:.0f} orders · {now.exceptions:.0f} open exceptions"
        f" · {messages} messages sent · lag {now.lag:.0f}"
    )
    if extra:
        text += f" · {extra}"
    if warnings:
        text += f" · {warnings} warning(s): {log_path}"
    return text


def _scrape(url: str) -> Reading | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return reading(response.read().decode())
    except (OSError, ValueError):
        return None


def show_in_background(
    metrics_url: str,
    log_path: str,
    stop: threading.Event,
    out: TextIO = sys.stderr,
    messages: Callable[[], int] = lambda: 0,
    extra: Callable[[], str] = lambda: "",
) -> threading.Thread:
    """Start the thread that keeps the status line up to date until ``stop`` is set;
    ``messages`` counts the messages sent so far, ``extra`` says anything else worth a glance."""
    tty = out.isatty()
    every = TTY_EVERY_S if tty else PLAIN_EVERY_S

    def loop() -> None:
        before, then = Reading(), time.monotonic()
        while not stop.wait(every):
            now = _scrape(metrics_url)
            if now is None:
                continue
            at = time.monotonic()
            text = line(now, before, at - then, messages(), WarningTally.count, log_path, extra())
            before, then = now, at
            if tty:
                out.write(f"\r\x1b[2K{text}")
            else:
                out.write(f"{text}\n")
            out.flush()
        if tty:
            out.write("\n")

    thread = threading.Thread(target=loop, name="status-line", daemon=True)
    thread.start()
    return thread
