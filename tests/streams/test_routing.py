"""Raw message → canonical events or a dead letter, and where each event goes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.routing import Where, direct, linked, normalise, scan_numbers
from wismo.events import Event, dump_event, event_from_dict, parse_event
from wismo.topics import EVENTS, TRACKING, RawPayload, decode_headers, route

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
WHERE = Where("wismo.raw", 3, 41)
PLACED = {
    "event_id": "oms:o1:placed",
    "kind": "order.placed",
    "order_id": "O1",
    "occurred_at": "2026-03-01T09:00:00Z",
    "payload": {"order_number": "1001"},
}
SCAN = {
    "event_id": "ups:s1",
    "source": "ups",
    "kind": "tracking.checkpoint",
    "tracking_number": "1z 999 aa1",
    "occurred_at": "2026-03-02T09:00:00Z",
    "payload": {"status": "in_transit"},
}
SHIPPED = {
    "event_id": "wms:o1:shipped",
    "source": "wms",
    "kind": "fulfilment.shipped",
    "order_id": "O1",
    "occurred_at": "2026-03-01T12:00:00Z",
    "payload": {"tracking_number": "1Z999AA1", "packages": [{"tracking_number": "1Z999AA2"}]},
}


def headers(source: str | None = "oms", received: datetime = NOW) -> dict[str, str]:
    payload = RawPayload(source or "x", b"", received, delivery_id="d-1")
    decoded = decode_headers(payload.kafka_headers())
    if source is None:
        del decoded["wismo-source"]
    return decoded


def test_a_valid_payload_becomes_stamped_events_and_no_dead_letter() -> None:
    received = datetime(2026, 3, 5, 11, 59, tzinfo=UTC)
    outcome = normalise(orjson.dumps(PLACED), headers(received=received), WHERE, NOW)
    assert outcome.dead_letter is None
    (event,) = outcome.events
    assert event.event_id == "oms:o1:placed"
    assert event.source == "oms"
    assert event.received_at == received
    assert event.raw_ref == "wismo.raw/3/41"


def test_a_batch_with_one_bad_item_keeps_the_good_ones_and_dead_letters_the_payload() -> None:
    bad = {**SCAN, "event_id": "ups:s2", "payload": {"status": "teleported"}}
    raw = orjson.dumps([PLACED, bad])
    outcome = normalise(raw, headers(), WHERE, NOW)
    assert [e.event_id for e in outcome.events] == ["oms:o1:placed"]
    letter = outcome.dead_letter
    assert letter is not None
    assert letter.raw == raw
    assert "[1]" in letter.reason
    assert "status" in letter.reason
    assert (letter.topic, letter.partition, letter.offset) == ("wismo.raw", 3, 41)


def test_not_json_is_a_dead_letter_with_the_raw_bytes_and_headers() -> None:
    outcome = normalise(b'{"kind": "order.pla', headers(), WHERE, NOW)
    assert outcome.events == ()
    assert outcome.dead_letter is not None
    assert outcome.dead_letter.reason.startswith("malformed")
    assert outcome.dead_letter.raw == b'{"kind": "order.pla'
    assert outcome.dead_letter.headers["wismo-delivery-id"] == "d-1"
    assert outcome.dead_letter.source == "oms"


def test_missing_or_unknown_source_is_a_dead_letter() -> None:
    missing = normalise(orjson.dumps(PLACED), headers(source=None), WHERE, NOW)
    assert missing.dead_letter is not None
    assert "wismo-source" in missing.dead_letter.reason
    unknown = normalise(orjson.dumps(PLACED), headers(source="pigeon"), WHERE, NOW)
    assert unknown.dead_letter is not None
    assert "pigeon" in unknown.dead_letter.reason
    assert unknown.events == ()


@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_and_are_never_silently_lost(raw: bytes) -> None:
    outcome = normalise(raw, headers(), WHERE, NOW)
    assert outcome.events or outcome.dead_letter is not None


def test_an_order_event_goes_to_the_events_topic_keyed_by_order() -> None:
    (out,) = route(event_from_dict({**PLACED, "source": "oms"}))
    assert (out.topic, out.key) == (EVENTS, "O1")
    assert parse_event(out.value).event_id == "oms:o1:placed"


def test_an_unlinked_scan_goes_to_the_tracking_topic_keyed_by_its_number() -> None:
    (out,) = route(event_from_dict(SCAN))
    assert (out.topic, out.key) == (TRACKING, "1Z999AA1")


def test_a_shipment_also_tells_the_link_agent_about_each_number_it_names() -> None:
    outs = route(event_from_dict(SHIPPED))
    assert [(o.topic, o.key) for o in outs] == [
        (EVENTS, "O1"),
        (TRACKING, "1Z999AA1"),
        (TRACKING, "1Z999AA2"),
    ]


def test_a_linked_scan_carries_its_order_and_nothing_else_changes() -> None:
    scan = event_from_dict(SCAN)
    joined = linked(scan, "O1")
    assert joined.order_id == "O1"
    assert joined.model_dump(exclude={"order_id"}) == scan.model_dump(exclude={"order_id"})
    (out,) = route(joined)
    assert (out.topic, out.key) == (EVENTS, "O1")


# ---- scans of a linked number, straight to their order (the normalise agent) -----------------


def _scan(event_id: str, number: str) -> Event:
    return event_from_dict({**SCAN, "event_id": event_id, "tracking_number": number})


def test_a_scan_of_a_linked_number_goes_straight_to_its_order_as_the_link_agent_sends_it() -> None:
    scan, other = _scan("ups:s1", "1Z999AA1"), _scan("ups:s2", "1Z000BB2")
    placed = event_from_dict({**PLACED, "source": "oms"})
    outs = direct([placed, scan, other], {"1Z999AA1": "O1"})
    assert [(o.topic, o.key) for o in outs] == [
        (EVENTS, "O1"),  # the order event, as routed
        (EVENTS, "O1"),  # the linked scan, joined to its order
        (TRACKING, "1Z000BB2"),  # not linked: the link agent parks it
    ]
    assert outs[1].value == dump_event(linked(scan, "O1"))


def test_a_scan_whose_number_its_batch_also_names_waits_for_the_link_agent() -> None:
    """A shipment in the same batch may (re)link the number: partition order decides, so the
    scan takes the tracking topic behind it, even though Redis knows a link."""
    shipped, scan = event_from_dict(SHIPPED), _scan("ups:s1", "1Z999AA2")
    assert scan_numbers([shipped, scan]) == []
    outs = direct([shipped, scan], {"1Z999AA2": "O-OLD"})
    assert outs == [*route(shipped), *route(scan)]


@given(
    st.lists(
        st.tuples(st.sampled_from(["scan", "placed", "shipped"]), st.sampled_from("ABC")),
        max_size=8,
    ),
    st.dictionaries(st.sampled_from(["1ZA0001", "1ZB0001", "1ZC0001"]), st.just("O9")),
)
def test_only_offered_scans_of_known_numbers_change_their_way(
    kinds: list[tuple[str, str]], links: dict[str, str]
) -> None:
    events: list[Event] = []
    for n, (kind, letter) in enumerate(kinds):
        number = f"1Z{letter}0001"
        if kind == "scan":
            events.append(_scan(f"ups:{n}", number))
        elif kind == "placed":
            events.append(event_from_dict({**PLACED, "source": "oms", "event_id": f"oms:{n}"}))
        else:
            payload = {"tracking_number": number}
            shipped = {**SHIPPED, "event_id": f"wms:{n}", "payload": payload}
            events.append(event_from_dict(shipped))
    offered = set(scan_numbers(events))
    expected = []
    for event in events:
        number = event.tracking_number or ""
        if event.order_id is None and number in offered and number in links:
            expected.append((EVENTS, links[number], dump_event(linked(event, links[number]))))
        else:
            expected += [(o.topic, o.key, o.value) for o in route(event)]
    assert [(o.topic, o.key, o.value) for o in direct(events, links)] == expected
    assert [(o.topic, o.key, o.value) for o in direct(events, {})] == [
        (o.topic, o.key, o.value) for e in events for o in route(e)
    ]


@given(
    st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=2**62),
)
def test_a_raw_ref_reads_back_as_where_it_was_read(topic: str, partition: int, offset: int) -> None:
    where = Where(topic, partition, offset)
    assert Where.parse(str(where)) == where
