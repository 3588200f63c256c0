"""The one order generator: deterministic for a seed, shaped by its mix, told up to ``now``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bench.orders import HISTORY, LIVELY, SLA, STEADY, Mix, stories, story, tracking_number
from projections.timeline import fold
from wismo.events import EventKind


def _kinds(mix_stories: list[list[str]]) -> Counter[str]:
    return Counter(kind for kinds in mix_stories for kind in kinds)


def test_the_same_seed_and_index_tell_the_same_story() -> None:
    first = [s.events() for s in stories(30, seed=5)]
    assert [s.events() for s in stories(30, seed=5)] == first
    assert [s.events() for s in stories(30, seed=6)] != first
    # an order's story does not depend on the orders generated before it
    assert story(17, seed=5).events() == first[17]


def test_steady_orders_have_one_parcel_still_on_its_way() -> None:
    for told in stories(50, seed=1, mix=STEADY, order_id="B-{seed}-{index}"):
        assert told.order_id == f"B-1-{told.index}"
        (parcel,) = told.parcels
        timeline = fold(told.events(), told.order_id)
        (shipment,) = timeline.shipments
        assert shipment.tracking_number == parcel.tracking_number
        statuses = sorted(str(c.status) for c in shipment.checkpoints)
        assert statuses == ["in_transit", "in_transit", "info_received", "out_for_delivery"]
        assert not timeline.exceptions


@pytest.mark.parametrize("mix", [LIVELY, HISTORY, SLA], ids=["lively", "history", "sla"])
def test_the_rich_mixes_cover_every_kind_and_trouble(mix: Mix) -> None:
    told = list(stories(400, seed=2, mix=mix))
    kinds = _kinds([[e.kind.value for e in s.events()] for s in told])
    for kind in (
        "order.placed",
        "order.cancelled",
        "payment.failed",
        "fulfilment.shipped",
        "tracking.checkpoint",
        "edd.revised",
        "return.received",
        "refund.issued",
    ):
        assert kinds[kind] > 0, kind
    statuses = Counter(
        str(getattr(e.payload, "status", ""))
        for s in told
        for e in s.events()
        if e.kind is EventKind.TRACKING_CHECKPOINT
    )
    assert {"exception", "attempt_fail", "returning_to_sender", "delivered"} <= set(statuses)
    assert any(len(s.parcels) > 1 for s in told)
    assert (kinds["exception.opened"] > 0) == (mix is SLA)


def test_nothing_is_told_after_now_and_the_demo_order_keeps_moving() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    start = now - timedelta(days=3)
    for told in stories(40, seed=3, start=start, now=now):
        assert all(t.at <= now for t in told.told)
    demo = story(0, seed=3, start=start, now=now, demo=True)
    carriers = {p.carrier for p in demo.parcels}
    assert carriers == {"ups", "fedex"}
    latest_scan = max(t.at for t in demo.told if t.scan is not None)
    assert now - latest_scan < timedelta(hours=12)


def test_a_tracking_number_never_contains_an_order_number() -> None:
    for index in range(20_000):
        for carrier in ("ups", "fedex", "dhl", "usps"):
            for group, parcel in (("G1", 0), ("G2", 1)):
                number = tracking_number(carrier, index, group, parcel)
                assert str(100000 + index) not in number
