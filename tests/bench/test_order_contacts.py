"""The generator's contact fields: some orders give a phone number, most a locale and time zone
matching their destination, the same for a seed and index, and valid for the order contract."""

from __future__ import annotations

from collections import Counter

from bench.orders import ABROAD, LIVELY, SLA, stories, story
from wismo.payloads import OrderPlaced


def _placed(index: int, seed: int = 0, **options: object) -> dict[str, object]:
    told = story(index, seed=seed, **options)  # type: ignore[arg-type]
    (document,) = told.told[0].events
    assert document["kind"] == "order.placed"
    payload: dict[str, object] = document["payload"]
    return payload


def test_contacts_are_deterministic_and_valid() -> None:
    first = [_placed(i, seed=4) for i in range(100)]
    assert [_placed(i, seed=4) for i in range(100)] == first
    shares: Counter[str] = Counter()
    for told in stories(300, seed=4, mix=SLA):
        event = told.events()[0]
        assert isinstance(event.payload, OrderPlaced)
        placed = event.payload
        shares["phone"] += placed.customer_phone is not None
        shares["located"] += placed.time_zone is not None
        if placed.time_zone is not None:
            assert placed.delivery_groups is not None
            destination = placed.delivery_groups[0].destination
            assert destination is not None
            country = str(destination.country)
            expected = {"GB": "Europe/London", "FR": "Europe/Paris", "DE": "Europe/Berlin"}
            assert placed.time_zone == expected[country]
            assert placed.locale is not None
            assert placed.locale.endswith(country)
    assert 120 < shares["phone"] < 240
    assert 240 < shares["located"] < 300
    assert any(place in ABROAD for place in SLA.destinations)


def test_the_rest_of_the_story_does_not_depend_on_the_contacts() -> None:
    from dataclasses import replace

    silent = replace(LIVELY, phone=0.0, located_customer=0.0)
    for index in range(40):
        with_contacts = story(index, seed=9).events()
        without = story(index, seed=9, mix=silent).events()
        assert [e.event_id for e in with_contacts] == [e.event_id for e in without]
        assert [e.occurred_at for e in with_contacts] == [e.occurred_at for e in without]
