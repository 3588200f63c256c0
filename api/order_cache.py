"""The process's cache of encoded customer answers (``GET /v1/orders/{id}``: the
``CustomerOrder`` document of :mod:`projections.customer_order`), kept correct by the change feed.

A read that finds its order here skips the Redis round trip, the timeline decode, the document and
its encoding. An entry is dropped when the order's change summary arrives on the agents channel,
and the whole cache is dropped (and bypassed) whenever the feed is not :attr:`~api.changes.
ChangeFeed.live` or resets: a served answer is then never older than what Redis held when the
request arrived by more than the pub/sub delivery delay (docs/guarantees.md).

A read that misses fills the entry only if nothing could have overtaken it: it takes a
:class:`Fill` before asking Redis, and the fill is refused when the order's summary arrived, or
the cache was reset, while Redis was being asked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class EncodedAnswer:
    """One answer as it is sent: body bytes, ETag and the ready headers."""

    etag: str
    body: bytes
    headers: CIMultiDictProxy[str] = field(repr=False)
    #: the 304 answer's headers (no Content-Type: a 304 has no body)
    not_modified_headers: CIMultiDictProxy[str] = field(repr=False)

    @classmethod
    def of(cls, etag: str, body: bytes, cache_control: str) -> EncodedAnswer:
        validators = CIMultiDict({"ETag": etag, "Cache-Control": cache_control})
        full = CIMultiDict(validators)
        full["Content-Type"] = JSON
        return cls(etag, body, CIMultiDictProxy(full), CIMultiDictProxy(validators))


#: the most variants (reader languages) kept of one order
_VARIANTS = 8


@dataclass(frozen=True, slots=True)
class Fill:
    """A permit to store what a read is about to fetch (see :meth:`OrderCache.begin`)."""

    order_id: str
    epoch: int
    seq: int
    variant: str = ""


class OrderCache:
    """Order id → its :class:`EncodedAnswer` per variant (the reader's language preference),
    least recently used orders dropped past ``size`` (0: off).

    ``live`` tells whether the change feed delivers every change right now.
    """

    def __init__(self, size: int, live: Callable[[], bool]) -> None:
        self.size = size
        self._live = live
        self._entries: OrderedDict[str, dict[str, EncodedAnswer]] = OrderedDict()
        self._epoch = 0  # bumped by every reset: fills begun before it are refused
        self._seq = 0  # bumped by every invalidation
        self._reading: dict[str, int] = {}  # order → reads in flight
        self._touched: dict[str, int] = {}  # order in flight → seq of its last invalidation
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._entries

    @property
    def epoch(self) -> int:
        """How many times the cache was reset."""
        return self._epoch

    def get(self, order_id: str, variant: str = "") -> EncodedAnswer | None:
        if not self._live():
            if self._entries:
                self.reset()
            return None
        entry = self._entries.get(order_id, {}).get(variant)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(order_id)
        self.hits += 1
        return entry

    def begin(self, order_id: str, variant: str = "") -> Fill | None:
        """Before asking Redis: ``None`` when what comes back must not be kept."""
        if not self.size or not self._live():
            return None
        self._reading[order_id] = self._reading.get(order_id, 0) + 1
        return Fill(order_id, self._epoch, self._seq, variant)

    def finish(self, fill: Fill | None, answer: EncodedAnswer | None) -> None:
        """After Redis answered (``answer``) or failed (None): keeps it unless overtaken."""
        if fill is None:
            return
        order_id = fill.order_id
        touched = self._touched.get(order_id, -1)
        remaining = self._reading.get(order_id, 1) - 1
        if remaining:
            self._reading[order_id] = remaining
        else:
            self._reading.pop(order_id, None)
            self._touched.pop(order_id, None)
        if answer is None or fill.epoch != self._epoch or touched > fill.seq or not self._live():
            return
        variants = self._entries.setdefault(order_id, {})
        if len(variants) >= _VARIANTS and fill.variant not in variants:
            variants.pop(next(iter(variants)))
        variants[fill.variant] = answer
        self._entries.move_to_end(order_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def invalidate(self, order_id: str) -> None:
        self._seq += 1
        self._entries.pop(order_id, None)
        if order_id in self._reading:
            self._touched[order_id] = self._seq

    def on_summary(self, summary: dict[str, Any]) -> None:
        """A change feed summary handler: ``{order_id, version, digest, status}``."""
        order_id = summary.get("order_id") if isinstance(summary, dict) else None
        if isinstance(order_id, str):
            self.invalidate(order_id)
        else:  # cannot tell which order changed: forget them all
            self.reset()

    def reset(self) -> None:
        """Forget everything, and refuse every fill begun before now."""
        self._epoch += 1
        self._entries.clear()
