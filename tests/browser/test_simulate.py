"""``wismo simulate``: every delivery is what its source sends, signed so the source's own check
accepts it, and the traffic covers the life of an order and its mess — deterministically."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from bench.simulate import Post, signed_headers, traffic
from carriers import registry
from wismo.events import EventKind

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return traffic(120, seed=3, now=NOW)


def test_the_same_seed_and_present_give_the_same_traffic(posts: list[Post]) -> None:
    assert traffic(120, seed=3, now=NOW) == posts
    assert traffic(120, seed=4, now=NOW) != posts


def test_every_delivery_parses_with_its_sources_parser(posts: list[Post]) -> None:
    kinds: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for post in posts:
        result = registry.get(post.source).parse(post.body, {}, NOW)
        # junk is refused as a whole; everything else is read without a single problem
        assert result.fatal == post.malformed, (post.source, post.body[:200], result.problems)
        if post.malformed:
            continue
        assert not result.problems, (post.source, post.body[:300], result.problems)
        for event in result.events:
            assert event.occurred_at <= NOW  # nothing from the future
            kinds[event.kind] += 1
            if event.kind == EventKind.TRACKING_CHECKPOINT:
                statuses[str(event.payload.status)] += 1  # type: ignore[union-attr]
    expected_kinds = {
        "order.placed",
        "order.cancelled",
        "payment.authorized",
        "payment.captured",
        "payment.failed",
        "fulfilment.created",
        "fulfilment.packed",
        "fulfilment.shipped",
        "tracking.checkpoint",
        "edd.revised",
        "return.authorized",
        "return.in_transit",
        "return.received",
        "refund.issued",
    }
    assert expected_kinds <= {str(kind) for kind in kinds}
    expected_statuses = {
        "info_received",
        "in_transit",
        "out_for_delivery",
        "delivered",
        "exception",
        "attempt_fail",
        "returning_to_sender",
        "returned_to_sender",
    }
    assert expected_statuses <= set(statuses)


def test_carriers_speak_their_own_formats(posts: list[Post]) -> None:
    by_source = Counter(post.source for post in posts)
    assert by_source.keys() == {"oms", "wms", "ups", "fedex"}
    ups = next(post for post in posts if post.source == "ups")
    assert "activityStatus" in orjson.loads(ups.body)
    fedex = next(post for post in posts if post.source == "fedex")
    assert "completeTrackResults" in orjson.loads(fedex.body)["output"]
    relayed = {
        orjson.loads(post.body).get("source")
        for post in posts
        if post.source == "oms" and not post.malformed and b"tracking.checkpoint" in post.body
    }
    assert {"dhl", "usps"} <= relayed


def test_signatures_pass_each_sources_own_check(posts: list[Post]) -> None:
    secret = "whsec_c2ltdWxhdG9yLXNlY3JldA=="  # Standard Webhooks form serves every source
    sent_at = time.time()
    now = datetime.fromtimestamp(sent_at, UTC)
    for source in ("oms", "wms", "ups", "fedex"):
        post = next(p for p in posts if p.source == source and not p.malformed)
        headers = {k.lower(): v for k, v in signed_headers(post, secret, sent_at).items()}
        module = registry.get(source)
        assert module.verify(post.body, headers, [secret], now) is None, source
        other = "whsec_YW5vdGhlci1zZWNyZXQ="
        assert module.verify(post.body, headers, [other], now) is not None, source


def test_the_mess_is_there(posts: list[Post]) -> None:
    bodies = Counter(post.body for post in posts)
    deliveries = Counter(post.delivery_id for post in posts)
    assert any(n > 1 for n in deliveries.values())  # the same delivery sent again
    again = [p for p in posts if ":again" in p.delivery_id]
    assert again
    assert all(bodies[p.body] > 1 for p in again)  # same events, a new delivery
    assert sum(post.malformed for post in posts) >= 3
    # some scans come before the shipment that names their tracking number
    early = 0
    for n, post in enumerate(posts):
        if post.source == "wms" and b"fulfilment.shipped" in post.body:
            number = orjson.loads(post.body)["payload"]["tracking_number"].encode()
            early += any(number in p.body for p in posts[:n] if p.source in ("ups", "fedex"))
    assert early > 0


def test_the_demo_order_comes_first_and_keeps_coming(posts: list[Post]) -> None:
    demo = [n for n, post in enumerate(posts) if post.order == 0]
    assert demo[0] == 0
    assert b'"order.placed"' in posts[0].body
    assert b'"100000"' in posts[0].body
    assert demo[-1] > len(posts) // 2  # its story is told across the run
