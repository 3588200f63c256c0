"""Integrator events from the state map: one per change, deterministic ids, every step told."""

from __future__ import annotations

import orjson

from projections.notify.integrator import integrator_events
from projections.timeline import fold
from tests.projections.notify.journeys import example, example_events, replay


def test_replaying_the_example_order_tells_every_change_once() -> None:
    handled: dict[str, str] = {}
    told: list[tuple[str, str]] = []
    for timeline in replay(example_events(), "ORD-1001"):
        events, entries = integrator_events(timeline, handled)
        handled |= entries
        told += [(e.type, e.subject) for e in events]
        for event in events:
            orjson.dumps(event.data)  # JSON-able
            assert event.data["order_version"] == timeline.version
            assert event.data["order_number"] == "1001"
    assert ("exception.opened", "exc:late-sh2") in told
    assert ("exception.resolved", "exc:late-sh2") in told
    assert ("exception.acknowledged", "exc:late-sh2") not in told
    assert [t for t in told if t[0].startswith("return.")] == [
        ("return.authorized", "RMA-7"),
        ("return.received", "RMA-7"),
    ]
    assert ("refund.issued", "RF-7") in told
    assert told.count(("shipment.milestone", "SH-1")) >= 4  # info, transit, exception, …
    assert told[0] == ("order.status_changed", "ORD-1001")


def test_first_sight_of_a_finished_exception_tells_its_whole_life() -> None:
    timeline = example()
    events, entries = integrator_events(timeline, {})
    exceptions = [e.type for e in events if e.subject == "exc:late-sh2"]
    assert exceptions == ["exception.opened", "exception.resolved"]
    assert entries["w.e:exc:late-sh2"] == "resolved"
    assert integrator_events(timeline, entries) == ([], {})


def test_ids_are_deterministic_and_a_returning_status_gets_a_new_one() -> None:
    timeline = example("ups:1Z999AA10123456784:X")
    first, entries = integrator_events(timeline, {})
    again, _ = integrator_events(timeline, {})
    assert [e.id for e in first] == [e.id for e in again]
    assert len({e.id for e in first}) == len(first)
    # last seen in transit (its first change): now a second change, with an id of its own
    later, later_entries = integrator_events(timeline, entries | {"w.o": "in_transit.1"})
    status = [e for e in later if e.type == "order.status_changed"]
    assert len(status) == 1
    assert later_entries["w.o"] == f"{timeline.status.value}.2"
    original = next(e for e in first if e.type == "order.status_changed")
    assert status[0].id != original.id


def test_events_carry_what_filters_and_receivers_need() -> None:
    events, _ = integrator_events(fold(example_events(), "ORD-1001"), {})
    refund = next(e for e in events if e.type == "refund.issued")
    assert refund.data["refund"] == {
        "refund_id": "RF-7",
        "amount": "19.90",
        "currency": "EUR",
        "return_id": "RMA-7",
        "full": False,
    }
    assert refund.data["channel"] == "b2c"
    assert refund.data["carriers"] == ["dhl", "ups"]
    parcel = next(e for e in events if e.type == "shipment.milestone" and e.subject == "SH-2")
    assert parcel.data["shipment"]["tracking_status"] == "delivered"
