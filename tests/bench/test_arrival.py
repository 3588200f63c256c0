"""The throughput bench's arrival orders: what reaches the events topic, and in which order."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.history import generate
from bench.throughput import LATE_SHARE, arrival_order
from projections.ordering import sort_key
from wismo.events import Event

ByOrder = dict[str, list[Event]]


@pytest.fixture(scope="module")
def by_order() -> ByOrder:
    return generate(300, seed=5, duplicate_share=0, malformed_share=0).by_order()


def _backwards(sequence: list[tuple[str, Event]]) -> int:
    """Events that arrive after a later event of their own order."""
    count = 0
    latest: dict[str, tuple[object, ...]] = {}
    for order_id, event in sequence:
        key = sort_key(event)
        if order_id in latest and key < latest[order_id]:
            count += 1
        latest[order_id] = max(key, latest.get(order_id, key))
    return count


@pytest.mark.parametrize("arrival", ["timely", "shuffled"])
def test_every_event_is_sent_once_with_its_order(by_order: ByOrder, arrival: str) -> None:
    sequence = arrival_order(by_order, seed=1, arrival=arrival)
    expected = Counter(e.event_id for events in by_order.values() for e in events)
    assert Counter(event.event_id for _, event in sequence) == expected
    owners = {e.event_id: order_id for order_id, events in by_order.items() for e in events}
    assert all(owners[event.event_id] == order_id for order_id, event in sequence)


def test_timely_arrival_interleaves_orders_and_keeps_each_in_time_order(
    by_order: ByOrder,
) -> None:
    sequence = arrival_order(by_order, seed=1, arrival="timely")
    assert _backwards(sequence) <= 2 * LATE_SHARE * len(sequence)
    assert len({order_id for order_id, _ in sequence[:100]}) > 50  # a batch spans many orders


def test_shuffled_arrival_breaks_time_order(by_order: ByOrder) -> None:
    sequence = arrival_order(by_order, seed=1, arrival="shuffled")
    assert _backwards(sequence) > 4 * LATE_SHARE * len(sequence)
    with pytest.raises(ValueError, match="arrival"):
        arrival_order(by_order, seed=1, arrival="sorted")
