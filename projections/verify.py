"""The invariant checker's core: what the stores hold against what the input history implies.

Given the valid events of a history (any duplication, any order), the reference is computed
with the same pure code the live path uses — :func:`projections.ordering.group_by_order` to link
scans to orders, :func:`projections.timeline.fold` per order — and compared with:

- **Redis**: per order, the set of event ids held and the timeline document, field by field;
  an order Redis holds that the input does not is an extra.
- **ClickHouse**: the event log read with ``FINAL`` (one row per ``event_id`` after
  deduplication): every valid event exactly once, attributed to its order (a scan to the order
  whose shipment names it), with the canonical content it was sent with.

Every difference is a :class:`Difference` naming the store, the order, a field path and both
values. No I/O here: ``wismo verify`` reads the stores and hands the snapshots in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from projections.ordering import dedupe, group_by_order
from projections.serialize import timeline_to_json
from projections.timeline import fold
from wismo.events import Event, event_to_dict

#: Envelope fields that legitimately differ between the input and the logged copy: when and
#: where the pipeline received it, and the order a scan was linked to (checked on its own).
_TRANSPORT_FIELDS = ("received_at", "raw_ref", "order_id")
_SHOWN_CHARS = 120


class _Absent:
    """Stands for a key one document has and the other lacks (``null`` is a value)."""

    def __repr__(self) -> str:
        return "(absent)"

    __str__ = __repr__


ABSENT: Any = _Absent()


class DifferenceKind(StrEnum):
    FIELD = "field"
    MISSING_TIMELINE = "missing_timeline"
    EXTRA_TIMELINE = "extra_timeline"
    UNREADABLE = "unreadable"
    MISSING_EVENT = "missing_event"
    EXTRA_EVENT = "extra_event"
    DUPLICATED_EVENT = "duplicated_event"
    WRONG_ORDER = "wrong_order"


@dataclass(frozen=True, slots=True)
class Difference:
    store: str
    kind: DifferenceKind
    order_id: str | None
    path: str = ""
    expected: Any = None
    actual: Any = None
    event_id: str | None = None

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                self.store,
                self.order_id or "(no order)",
                f"event {self.event_id}" if self.event_id else "",
                self.path,
            )
            if part
        )
        return (
            f"{where}: {self.kind.value}: expected {_shown(self.expected)}, "
            f"actual {_shown(self.actual)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "kind": self.kind.value,
            "order_id": self.order_id,
            "event_id": self.event_id,
            "path": self.path,
            "expected": self.expected,
            "actual": self.actual,
        }


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class Reference:
    """What the stores must hold for a set of valid events."""

    events: Mapping[str, Event]
    """One event per id (the copy dedupe prefers)."""
    owners: Mapping[str, str]
    """event id -> the order it belongs to; ``""`` for a scan no known shipment names."""
    order_events: Mapping[str, frozenset[str]]
    timelines: Mapping[str, bytes]
    """order id -> the canonical timeline JSON of its valid events."""

    @classmethod
    def of(cls, events: Iterable[Event]) -> Reference:
        chosen = dedupe(events)
        by_order, unlinked = group_by_order(chosen.values())
        owners = {event.event_id: "" for event in unlinked}
        for order_id, members in by_order.items():
            owners.update((event.event_id, order_id) for event in members)
        return cls(
            events=chosen,
            owners=owners,
            order_events={o: frozenset(e.event_id for e in m) for o, m in by_order.items()},
            timelines={o: timeline_to_json(fold(m, o)) for o, m in by_order.items()},
        )


@dataclass(frozen=True, slots=True)
class RedisSnapshot:
    """What Redis holds for the orders of interest (and which other orders it holds)."""

    timelines: Mapping[str, bytes | None]
    event_ids: Mapping[str, frozenset[str]]
    other_orders: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One ``event_id`` of the ClickHouse log read with ``FINAL``."""

    rows: int
    order_id: str
    event_json: str


@dataclass(slots=True)
class Report:
    orders: int = 0
    events: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for difference in self.differences:
            key = f"{difference.store} {difference.kind.value}"
            counted[key] = counted.get(key, 0) + 1
        return dict(sorted(counted.items()))


def document_differences(
    expected: Any, actual: Any, path: str = ""
) -> Iterator[tuple[str, Any, Any]]:
    """Every leaf where two JSON documents differ, as (path, expected, actual).

    Paths read like ``shipments[0].checkpoints[3].status``; a key present on one side only is
    reported with :data:`ABSENT` on the other, a list of another length once at the list and then
    item by item over the common length.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys()):
            child = f"{path}.{key}" if path else str(key)
            yield from document_differences(
                expected.get(key, ABSENT), actual.get(key, ABSENT), child
            )
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{path}.length" if path else "length", len(expected), len(actual)
        for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
            yield from document_differences(left, right, f"{path}[{index}]")
    elif expected != actual or type(expected) is not type(actual):
        yield path, expected, actual


_HELD = "held"
_NOT_HELD = "not held"


def _event_text(event: Event | None) -> str:
    if event is None:
        return _NOT_HELD
    return f"{event.kind.value} at {event.occurred_at.isoformat()}"


def compare_redis(reference: Reference, snapshot: RedisSnapshot) -> list[Difference]:
    differences: list[Difference] = []
    for order_id in sorted(reference.timelines):
        differences += _compare_order_events(
            reference, order_id, reference.order_events[order_id], snapshot.event_ids.get(order_id)
        )
        differences += _compare_timeline(
            order_id, reference.timelines[order_id], snapshot.timelines.get(order_id)
        )
    for order_id in sorted(snapshot.other_orders - reference.timelines.keys()):
        differences.append(
            Difference(
                "redis",
                DifferenceKind.EXTRA_TIMELINE,
                order_id,
                expected="no timeline (the input does not mention the order)",
                actual="a timeline",
            )
        )
    return differences


def _compare_order_events(
    reference: Reference, order_id: str, expected: frozenset[str], held: frozenset[str] | None
) -> list[Difference]:
    held = held or frozenset()
    missing = [
        Difference(
            "redis",
            DifferenceKind.MISSING_EVENT,
            order_id,
            expected=_event_text(reference.events.get(event_id)),
            actual=_NOT_HELD,
            event_id=event_id,
        )
        for event_id in sorted(expected - held)
    ]
    extra = [
        Difference(
            "redis",
            DifferenceKind.EXTRA_EVENT,
            order_id,
            expected="not in the input" if event_id not in reference.events else "another order",
            actual=_HELD,
            event_id=event_id,
        )
        for event_id in sorted(held - expected)
    ]
    return missing + extra


def _compare_timeline(order_id: str, expected: bytes, actual: bytes | None) -> list[Difference]:
    if actual is None:
        return [
            Difference(
                "redis",
                DifferenceKind.MISSING_TIMELINE,
                order_id,
                expected="a timeline",
                actual="no timeline",
            )
        ]
    if actual == expected:
        return []
    try:
        decoded = orjson.loads(actual)
    except orjson.JSONDecodeError as error:
        return [
            Difference(
                "redis",
                DifferenceKind.UNREADABLE,
                order_id,
                expected="timeline JSON",
                actual=str(error),
            )
        ]
    return [
        Difference("redis", DifferenceKind.FIELD, order_id, path, want, got)
        for path, want, got in document_differences(orjson.loads(expected), decoded)
    ]


def compare_clickhouse(
    reference: Reference,
    logged: Mapping[str, LoggedEvent],
    *,
    ignore_extra_orders: bool = False,
) -> list[Difference]:
    """``ignore_extra_orders``: events the input does not have are not reported when they
    belong to an order the input does not mention (or to none)."""
    differences: list[Difference] = []
    for event_id in sorted(reference.events.keys() | logged.keys()):
        owner = reference.owners.get(event_id)
        row = logged.get(event_id)
        if row is None:
            differences.append(
                Difference(
                    "clickhouse",
                    DifferenceKind.MISSING_EVENT,
                    owner or None,
                    expected=_event_text(reference.events.get(event_id)),
                    actual="no row",
                    event_id=event_id,
                )
            )
        elif owner is None:
            if ignore_extra_orders and row.order_id not in reference.timelines:
                continue
            differences.append(
                Difference(
                    "clickhouse",
                    DifferenceKind.EXTRA_EVENT,
                    row.order_id or None,
                    event_id=event_id,
                    expected="no row (not in the input)",
                    actual=f"{row.rows} row(s)",
                )
            )
        else:
            differences += _compare_logged(reference.events[event_id], owner, row)
    return differences


def _compare_logged(event: Event, owner: str, row: LoggedEvent) -> list[Difference]:
    order = owner or None
    found: list[Difference] = []
    if row.rows != 1:
        found.append(
            Difference(
                "clickhouse",
                DifferenceKind.DUPLICATED_EVENT,
                order,
                event_id=event.event_id,
                expected=1,
                actual=row.rows,
            )
        )
    if row.order_id != owner:
        found.append(
            Difference(
                "clickhouse",
                DifferenceKind.WRONG_ORDER,
                order,
                "order_id",
                owner,
                row.order_id,
                event.event_id,
            )
        )
    try:
        stored = orjson.loads(row.event_json)
    except orjson.JSONDecodeError as error:
        return [
            *found,
            Difference(
                "clickhouse",
                DifferenceKind.UNREADABLE,
                order,
                event_id=event.event_id,
                expected="event JSON",
                actual=str(error),
            ),
        ]
    found += [
        Difference("clickhouse", DifferenceKind.FIELD, order, path, want, got, event.event_id)
        for path, want, got in document_differences(
            _content(event_to_dict(event)), _content(stored)
        )
    ]
    return found


def _content(document: Any) -> Any:
    if not isinstance(document, dict):
        return document
    return {key: value for key, value in document.items() if key not in _TRANSPORT_FIELDS}


def verify(
    reference: Reference,
    redis: RedisSnapshot | None = None,
    clickhouse: Mapping[str, LoggedEvent] | None = None,
    *,
    ignore_extra_orders: bool = False,
) -> Report:
    """Compare whichever stores were read; a store given as ``None`` is not checked.

    ``ignore_extra_orders`` leaves out orders the input does not mention, in both stores (for
    Redis, the caller reads no other orders)."""
    report = Report(orders=len(reference.timelines), events=len(reference.events))
    if redis is not None:
        report.differences += compare_redis(reference, redis)
    if clickhouse is not None:
        report.differences += compare_clickhouse(
            reference, clickhouse, ignore_extra_orders=ignore_extra_orders
        )
    return report
