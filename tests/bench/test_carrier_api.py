"""The simulated carrier Track API: the real UPS client polls it, and a polled scan is the same
event (same id) as the Track Alert the simulator would have pushed, so polling heals a dropped
webhook without doubling anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.carrier_api import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    CarrierApiServer,
    TrackBook,
    start_carrier_api,
)
from bench.simulate import Post, dropped, traffic
from carriers.errors import TrackingApiError
from carriers.ups.client import UpsClient
from carriers.ups.parse import parse as parse_ups

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SEED = 7


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return traffic(12, seed=SEED, now=NOW, days=10.0)


@pytest.fixture
def book(posts: list[Post]) -> TrackBook:
    book = TrackBook(clock=lambda: NOW)
    book.add(posts)
    return book


@pytest.fixture
def server(book: TrackBook) -> Iterator[CarrierApiServer]:
    running = start_carrier_api(book)
    try:
        yield running
    finally:
        running.stop()


def alert_events(posts: list[Post], number: str) -> set[str]:
    ids: set[str] = set()
    for post in posts:
        if post.source == "ups" and orjson.loads(post.body).get("trackingNumber") == number:
            result = parse_ups(post.body, {}, NOW)
            ids |= {e.event_id for e in result.events if e.kind == "tracking.checkpoint"}
    return ids


async def test_a_polled_parcel_gives_the_events_its_webhooks_gave(
    posts: list[Post], book: TrackBook, server: CarrierApiServer
) -> None:
    numbers = book.numbers()
    assert len(numbers) >= 3
    async with aiohttp.ClientSession() as session:
        client = UpsClient(session, DEV_CLIENT_ID, DEV_CLIENT_SECRET, base_url=server.base_url)
        for number in numbers:
            polled = await client.track(number, NOW)
            assert not polled.problems
            scans = {e.event_id for e in polled.events if e.kind == "tracking.checkpoint"}
            assert scans == alert_events(posts, number)
    assert server.api.tracked == len(numbers)
    assert len(server.api.tokens) == 1  # one token, cached by the client


async def test_only_scans_whose_time_has_come(posts: list[Post]) -> None:
    book = TrackBook(clock=lambda: NOW)
    book.add(posts)
    number = book.numbers()[0]
    full = book.package(number)
    assert full is not None
    times = sorted(a["gmtDate"] + a["gmtTime"] for a in full["activity"])
    first = datetime.strptime(times[0], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    book.clock = lambda: first
    early = book.package(number)
    assert early is not None
    assert len(early["activity"]) == 1
    book.clock = lambda: first - timedelta(seconds=1)
    assert book.package(number) is None


async def test_credentials_tokens_and_unknown_numbers(server: CarrierApiServer) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = UpsClient(session, DEV_CLIENT_ID, "not-the-secret", base_url=server.base_url)
        with pytest.raises(TrackingApiError) as refused:
            await wrong.track("1Z999AA10000000000")
        assert refused.value.status == 401

        url = f"{server.base_url}/api/track/v1/details/1Z999AA10000000000"
        async with session.get(url, headers={"Authorization": "Bearer made-up"}) as response:
            assert response.status == 401

        right = UpsClient(session, DEV_CLIENT_ID, DEV_CLIENT_SECRET, base_url=server.base_url)
        with pytest.raises(TrackingApiError) as unknown:
            await right.track("1Z999AA10000000000")
        assert unknown.value.status == 404
        assert "No tracking information available" in str(unknown.value)


def test_the_simulator_drops_a_small_share_of_carrier_webhooks_the_same_way_each_time(
    posts: list[Post],
) -> None:
    many = traffic(80, seed=SEED, now=NOW, days=10.0)
    ups = [p for p in many if p.source == "ups"]
    chosen = [p.delivery_id for p in many if dropped(p, SEED, 0.05)]
    assert chosen == [p.delivery_id for p in many if dropped(p, SEED, 0.05)]
    assert all(p.source == "ups" for p in many if dropped(p, SEED, 0.05))
    assert 0 < len(chosen) < len(ups) * 0.15
    assert not any(dropped(p, SEED, 0.0) for p in many)
    assert chosen != [p.delivery_id for p in many if dropped(p, SEED + 1, 0.05)]


@given(st.text(min_size=1, max_size=40), st.integers(0, 10**6), st.floats(0.0, 1.0))
def test_drop_decisions_are_a_function_of_seed_and_delivery(
    delivery_id: str, seed: int, share: float
) -> None:
    post = Post("ups", b"{}", delivery_id, 1)
    assert dropped(post, seed, share) == dropped(post, seed, share)
    assert not dropped(Post("oms", b"{}", delivery_id, 1), seed, share)
    if share >= 1.0:
        assert dropped(post, seed, share)


async def test_wismo_up_points_ups_polling_at_the_simulated_carrier(posts: list[Post]) -> None:
    from pydantic import SecretStr

    from cli.commands.up import _with_simulated_carrier
    from wismo.settings import CarrierCredentials, PollSettings, Settings

    settings, book = _with_simulated_carrier(Settings(), True)
    assert book is not None
    ups = settings.poll.carriers["ups"]
    assert ups.base_url is not None
    assert ups.client_id == DEV_CLIENT_ID
    assert ups.client_secret is not None
    book.add(posts)
    number = book.numbers()[0]
    async with aiohttp.ClientSession() as session:
        client = UpsClient(
            session, ups.client_id, ups.client_secret.get_secret_value(), base_url=ups.base_url
        )
        assert (await client.track(number)).events

    # polled on the demo cadence (seconds, slowing to minutes), unless the cadence is configured
    assert settings.poll.in_transit_s == 30.0
    assert settings.poll.max_interval_s == 900.0
    slow = Settings(poll=PollSettings(in_transit_s=7200.0))
    assert _with_simulated_carrier(slow, True)[0].poll.in_transit_s == 7200.0

    # configured UPS access, production, or no demo traffic: nothing simulated
    real = CarrierCredentials(client_id="mine", client_secret=SecretStr("s"))
    configured = Settings(poll=PollSettings(carriers={"ups": real}))
    assert _with_simulated_carrier(configured, True) == (configured, None)
    assert _with_simulated_carrier(Settings(), False)[1] is None
