"""Bookkeeping of the webhooks ``wismo up`` drops on purpose: which scans each dropped, and when
one counts as healed by polling (its event in the order's timeline, applied from a polled
payload) rather than waiting or arrived some other way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest

from bench.carrier_api import DROPS_PATH, TrackBook, start_carrier_api
from bench.healing import Drop, Fate, Ledger, drops_of, fate, origin_of
from bench.simulate import Post, dropped, send, traffic
from carriers.ups.parse import parse as parse_ups
from streams.routing import Where
from wismo.events import TrackingCheckpointEvent
from wismo.topics import Header

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SEED = 7


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return traffic(30, seed=SEED, now=NOW, days=10.0)


def ups_scan(posts: list[Post]) -> Post:
    return next(p for p in posts if p.source == "ups" and p.order >= 0 and not p.malformed)


def drop(event_id: str = "ups:1Z:1", order_id: str = "SIM7-000001") -> Drop:
    return Drop(order_id, "1Z999AA10000000001", event_id, "in_transit", NOW, NOW)


def test_a_dropped_webhook_is_the_scan_its_order_misses(posts: list[Post]) -> None:
    post = ups_scan(posts)
    (scan,) = drops_of(post, SEED, NOW)
    alert = orjson.loads(post.body)
    events = parse_ups(post.body, {}, NOW).events
    (event,) = [e for e in events if isinstance(e, TrackingCheckpointEvent)]
    assert scan.event_id == event.event_id  # the id a polled copy of the scan gets too
    assert scan.order_id == f"SIM{SEED}-{post.order:06d}"
    assert scan.tracking_number == alert["trackingNumber"]
    assert scan.status == event.payload.status.value
    assert scan.occurred_at == event.occurred_at
    assert scan.dropped_at == NOW
    # a delivery of no order (a stray scan, junk) has no order to heal
    assert drops_of(Post("ups", post.body, "stray", -1), SEED, NOW) == []
    assert drops_of(Post("ups", b"{", "junk", 3, True), SEED, NOW) == []


def test_where_an_event_was_read_and_how_its_payload_came() -> None:
    assert Where.parse("wismo.raw/1/2044") == Where("wismo.raw", 1, 2044)
    assert Where.parse("a/b.raw/0/7") == Where("a/b.raw", 0, 7)
    assert Where.parse(str(Where("wismo.raw", 3, 9))) == Where("wismo.raw", 3, 9)
    for broken in (None, 3, "", "wismo.raw", "wismo.raw/1", "wismo.raw/x/2", "/1/2"):
        assert Where.parse(broken) is None
    assert origin_of({Header.ORIGIN.value: "poll"}) == "poll"
    assert origin_of({Header.ORIGIN.value: "sync"}) == "sync"
    assert origin_of({Header.SOURCE.value: "ups"}) == "webhook"


def test_healed_only_when_the_timeline_holds_it_from_a_polled_payload() -> None:
    polled = {Header.SOURCE.value: "ups", Header.ORIGIN.value: "poll"}
    pushed = {Header.SOURCE.value: "ups", Header.DELIVERY_ID.value: "sim-1:again3"}
    event = {"event_id": "ups:1Z:1", "raw_ref": "wismo.raw/0/5"}
    assert fate(None, None) is Fate.WAITING
    assert fate(None, polled) is Fate.WAITING
    assert fate(event, None) is None  # held, but its payload not read yet: undecided
    assert fate(event, polled) is Fate.HEALED
    assert fate(event, pushed) is Fate.OTHERWISE  # a copy of the webhook under another id
    assert fate(event, {**pushed, Header.ORIGIN.value: "sync"}) is Fate.OTHERWISE


def test_the_ledger_counts_each_dropped_scan_once_and_settles_it_once() -> None:
    ledger = Ledger()
    assert ledger.summary() == "0 dropped, 0 healed by polling"
    assert ledger.status() == ""  # the status line says nothing until something was dropped
    one, two, three = drop("ups:a"), drop("ups:b"), drop("ups:c")
    ledger.add([one, two])
    ledger.add([drop("ups:a", order_id="other")])  # the same delivery dropped again
    ledger.add([three])
    assert ledger.waiting() == [one, two, three]
    healed_at = NOW + timedelta(minutes=1)
    assert ledger.settle("ups:a", Fate.HEALED, healed_at)
    assert not ledger.settle("ups:a", Fate.OTHERWISE, NOW)  # settled for good
    assert not ledger.settle("ups:unknown", Fate.HEALED, NOW)
    assert ledger.summary() == "3 dropped, 1 healed by polling"
    assert ledger.status() == "1/3 dropped webhooks healed by polling"
    assert ledger.settle("ups:b", Fate.OTHERWISE, NOW)
    assert ledger.summary() == "3 dropped, 1 healed by polling, 1 arrived otherwise"
    assert ledger.waiting() == [three]
    report = ledger.report()
    assert (report["dropped"], report["healed"], report["otherwise"], report["waiting"]) == (
        3,
        1,
        1,
        1,
    )
    first = report["drops"][0]
    assert first == {
        "order_id": "SIM7-000001",
        "tracking_number": "1Z999AA10000000001",
        "event_id": "ups:a",
        "status": "in_transit",
        "occurred_at": NOW.isoformat(),
        "dropped_at": NOW.isoformat(),
        "fate": "healed",
        "arrived_at": healed_at.isoformat(),
    }
    assert [d["fate"] for d in report["drops"]] == ["healed", "arrived otherwise", "waiting"]
    assert report["drops"][2]["arrived_at"] is None
    orjson.dumps(report)  # JSON as it is


async def test_the_simulator_hands_over_each_webhook_it_drops(posts: list[Post]) -> None:
    ups = [p for p in posts if p.source == "ups"]
    handed: list[Post] = []
    # everything dropped: nothing is sent, so no API is needed
    outcome = await send(
        "http://127.0.0.1:9",
        ups,
        rate=0,
        secrets={},
        drop_share=1.0,
        seed=SEED,
        on_drop=handed.append,
    )
    assert handed == [p for p in ups if dropped(p, SEED, 1.0)] == ups
    assert outcome.dropped == len(ups)
    assert outcome.sent == 0


async def test_the_simulated_carrier_reports_the_drops(posts: list[Post]) -> None:
    ledger = Ledger()
    ledger.add(drops_of(ups_scan(posts), SEED, NOW))
    server = start_carrier_api(TrackBook(), drops=ledger.report)
    bare = start_carrier_api(TrackBook())
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.base_url + DROPS_PATH) as response:
                assert response.status == 200
                assert await response.json() == ledger.report()
            async with session.get(bare.base_url + DROPS_PATH) as response:
                assert response.status == 404  # without a ledger, not served
    finally:
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(bare.stop)
