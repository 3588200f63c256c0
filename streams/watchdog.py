"""Liveness: a worker is stuck when it has something to consume but its offsets stopped moving.

:class:`Watchdog` is pure: feed it, per partition, the committed offset and the high-water mark
together with the time; it answers whether the worker is healthy. An idle worker (no lag) is
healthy however long its offsets stand still; a busy one is healthy while any offset moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Offsets = Mapping[str, tuple[int, int]]
"""Partition name → (committed offset, high-water mark)."""


@dataclass(frozen=True, slots=True)
class Health:
    lag: int
    stalled_for_s: float
    healthy: bool

    def as_dict(self) -> dict[str, object]:
        return {"lag": self.lag, "stalled_for_s": self.stalled_for_s, "healthy": self.healthy}


@dataclass
class Watchdog:
    stall_after_s: float = 60.0
    _positions: dict[str, int] = field(default_factory=dict)
    _last_progress: float | None = None

    def observe(self, offsets: Offsets, now: float) -> Health:
        lag = sum(max(high - committed, 0) for committed, high in offsets.values())
        positions = {name: committed for name, (committed, _) in offsets.items()}
        moved = any(self._positions.get(name) != at for name, at in positions.items())
        self._positions = positions
        if moved or lag == 0 or self._last_progress is None:
            self._last_progress = now
        stalled_for = now - self._last_progress
        return Health(lag, stalled_for, stalled_for < self.stall_after_s)
