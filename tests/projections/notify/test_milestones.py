"""The journey facts of real timelines: one per parcel milestone, exception, return and refund."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.orders import ONE_PARCEL
from projections.customer_order import banner
from projections.notify.milestones import RANK, Fact, journey, order_complete
from projections.notify.model import Milestone
from projections.timeline import fold
from tests.projections.notify.journeys import example, story_events


def keys(facts: list[Fact]) -> set[str]:
    return {f.key for f in facts}


def test_the_whole_example_order_reaches_every_milestone() -> None:
    timeline = example()
    facts = journey(timeline, "Europe/Paris")
    assert keys(facts) == {
        "shipped:SH-1",
        "shipped:SH-2",
        "out_for_delivery:SH-1",
        "delivered:SH-1",
        "delivered:SH-2",
        "all_delivered",
        "return_received:RMA-7",
        "refund_issued:RF-7",
    }  # the failed attempt's exception was resolved: no delay left to tell
    assert order_complete(timeline)
    refund = next(f for f in facts if f.milestone is Milestone.REFUND_ISSUED)
    assert refund.context["amount"] == "19.90"
    assert refund.context["currency"] == "EUR"
    returned = next(f for f in facts if f.milestone is Milestone.RETURN_RECEIVED)
    assert returned.context["items"] == [{"name": "Blue mug", "quantity": 1}]
    everything = next(f for f in facts if f.milestone is Milestone.ALL_DELIVERED)
    assert everything.subject == "ORD-1001"
    assert everything.occurred_at == datetime(2026, 3, 7, 10, 15, tzinfo=UTC)


def test_facts_come_in_journey_order() -> None:
    ranks = [f.rank for f in journey(example()) if f.rank]
    assert ranks == sorted(ranks)
    assert RANK[Milestone.SHIPPED] < RANK[Milestone.DELAYED] < RANK[Milestone.ARRIVING_SOON]
    assert RANK[Milestone.ARRIVING_SOON] < RANK[Milestone.OUT_FOR_DELIVERY]
    assert RANK[Milestone.OUT_FOR_DELIVERY] < RANK[Milestone.DELIVERED]
    assert RANK[Milestone.DELIVERED] < RANK[Milestone.ALL_DELIVERED]


def test_a_shipped_parcel_has_context_and_an_arriving_soon_reminder() -> None:
    timeline = example("wms:fo-1-shipped")
    facts = {f.key: f for f in journey(timeline, "Europe/Paris")}
    assert set(facts) == {"shipped:SH-1", "arriving_soon:SH-1"}
    shipped = facts["shipped:SH-1"]
    assert shipped.context["order_number"] == "1001"
    assert shipped.context["parcel"]["carrier"] == "ups"
    assert shipped.context["parcel"]["tracking_number"] == "1Z999AA10123456784"
    assert shipped.context["parcel"]["estimated_delivery"] == "2026-03-05"
    assert shipped.context["items"] == [{"name": "Blue mug", "quantity": 2}]
    soon = facts["arriving_soon:SH-1"]
    # midnight in Paris (UTC+1 in March) of the day before the carrier's 5 March
    assert soon.due == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert journey(timeline, "No/Such_Zone")[1].due == datetime(2026, 3, 4, tzinfo=UTC)


def test_an_open_customer_visible_exception_is_a_delay_with_the_status_page_wording() -> None:
    timeline = example("wismo:exc-late-sh2")
    delays = [f for f in journey(timeline) if f.milestone is Milestone.DELAYED]
    assert [d.key for d in delays] == ["delayed:exc:late-sh2"]
    assert delays[0].subject == "exc:late-sh2"
    assert delays[0].shipment_id == "SH-2"
    assert delays[0].context["reason"] == banner(timeline)
    assert "nobody to receive your parcel" in delays[0].context["reason"]


def test_no_reminder_once_out_for_delivery_and_no_all_delivered_for_one_parcel() -> None:
    timeline = example("ups:1Z999AA10123456784:OT")
    assert "arriving_soon:SH-1" not in keys(journey(timeline))
    for index in range(6):
        order_id, events = story_events(index, ONE_PARCEL)
        facts = journey(fold(events, order_id))
        assert not any(f.milestone is Milestone.ALL_DELIVERED for f in facts)
