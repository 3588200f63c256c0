"""Realistic, messy traffic posted to a running API's webhooks (``wismo simulate``, ``wismo up``).

The orders are the generator's (:mod:`bench.orders`, its ``LIVELY`` mix), each delivery in its
source's own format (:mod:`bench.webhooks`).

Every delivery is what the source itself would send, signed the way it signs: the shop's ``oms``
feed (orders, payments, returns, refunds) and the ``wms`` feed (fulfilment) in canonical JSON
under Standard Webhooks, UPS Track Alerts with their ``credential`` header, FedEx tracking
pushes with ``fdx-signature``; DHL and USPS scans arrive through the ``oms`` feed, attributed to
their carrier, as a shop relaying a tracking aggregator would.

Orders have one or two delivery groups with promised dates, some shipments are split into two
parcels, and the walks cover every exception the detector knows: carrier-reported delays,
weather, customs holds, address problems, failed attempts, returns to sender, lost and damaged
parcels, labels never scanned, orders never shipped, failed payment captures, returns with and
without their refund. Then the mess: deliveries sent twice (same delivery id and a fresh one),
events out of order, scans before their shipment, late scans, scans without location, and a few
payloads no source should send (cut-off JSON, unknown status, no time) that the API refuses.

Everything is a function of ``--seed`` and ``--now``; events are placed in the ``--days`` before
``now`` (nothing in the future). Past orders are replayed a few at a time, newest delivery first;
the demo order (number 100000) is told in order and spread over the whole run, so its page keeps
changing while the simulation runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.orders import EMAIL, LIVELY, malformed, story
from bench.webhooks import SOURCES, Post, signed_headers, ups_alert
from bench.webhooks import posts as posts_of

#: what callers of the simulation use from the webhook formats
__all__ = [
    "DEMO_EMAIL",
    "SOURCES",
    "Outcome",
    "Post",
    "batches",
    "dropped",
    "send",
    "signed_headers",
]

DEMO_EMAIL = EMAIL
ORDER_ID = "SIM{seed}-{index:06d}"
_WINDOW = 6  # orders told at the same time
#: the carrier webhooks the simulator may drop on purpose: those the simulated carrier API
#: (:mod:`bench.carrier_api`) answers for, so the poll role can heal them
DROPPABLE = ("ups",)


def dropped(post: Post, seed: int, share: float) -> bool:
    """Whether the simulator drops this carrier webhook on purpose: the same deliveries for the
    same seed, about ``share`` of the droppable ones (a re-sent delivery shares its fate)."""
    if share <= 0 or post.malformed or post.source not in DROPPABLE:
        return False
    digest = hashlib.sha256(f"{seed}:drop:{post.delivery_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def traffic(
    orders: int,
    *,
    seed: int,
    now: datetime,
    days: float = 42.0,
    first_index: int = 0,
    demo: bool = True,
    duplicate_share: float = 0.08,
    late_share: float = 0.05,
    malformed_share: float = 0.01,
    branded: bool = False,
) -> list[Post]:
    """The deliveries of ``orders`` orders, in the order they are sent (see the module doc)."""
    rng = random.Random(f"{seed}:traffic:{first_index}")
    # placed up to two hours ago: every order has begun its story
    start = now - timedelta(hours=days * 24)
    mix = replace(LIVELY, days=max(0.0, days - 2 / 24), branded=branded)
    queues: list[list[Post]] = []
    late: list[Post] = []
    for index in range(first_index, first_index + orders):
        is_demo = demo and index == 0
        order = story(
            index, seed=seed, mix=mix, order_id=ORDER_ID, start=start, now=now, demo=is_demo
        )
        told = sorted(posts_of(order), key=lambda p: (p[0], p[1].delivery_id))
        # a past order is replayed newest first: its scans wait (parked) for their shipment
        # and its promises arrive after its deliveries, so the clock-driven detector, which
        # compares with the present, judges whole stories rather than the seconds between
        # deliveries; the demo order is told in order, as it would happen
        posts = [post for _, post in (told if demo and index == 0 else reversed(told))]
        _shuffle_a_little(posts, rng)
        kept: list[Post] = []
        for post in posts:
            is_scan = post.source in ("ups", "fedex") or b"tracking.checkpoint" in post.body
            (late if is_scan and rng.random() < late_share and index else kept).append(post)
        queues.append(kept)
    demo_posts = queues.pop(0) if demo and queues else []
    sent = _interleave(queues, rng)
    sent.extend(late)
    # the demo order is told across the whole run: its page keeps changing
    step = (len(sent) + 1) / max(1, len(demo_posts))
    for n, post in enumerate(demo_posts):
        sent.insert(min(len(sent), round(n * step) + n), post)
    for n in range(int(len(sent) * malformed_share)):
        junk = Post(
            "oms", malformed(n + first_index, now), f"sim-junk-{n}-{rng.randrange(10**9)}", -1, True
        )
        sent.insert(rng.randrange(1, len(sent) + 1), junk)
    for n in range(int(len(sent) * duplicate_share)):
        original = sent[rng.randrange(len(sent))]
        if original.malformed:
            continue
        # half are the same delivery sent again, half the same events in a new delivery
        copy = (
            original
            if n % 2
            else Post(
                original.source, original.body, f"{original.delivery_id}:again{n}", original.order
            )
        )
        sent.insert(rng.randrange(sent.index(original) + 1, len(sent) + 1), copy)
    return sent


def _interleave(queues: list[list[Post]], rng: random.Random) -> list[Post]:
    """A few orders at a time, interleaved: an order's story arrives within seconds, as a
    carrier and a shop would tell it, rather than smeared over the whole run."""
    waiting = [q for q in queues if q]
    waiting.reverse()
    live: list[list[Post]] = []
    sent: list[Post] = []
    while waiting or live:
        while waiting and len(live) < _WINDOW:
            live.append(waiting.pop())
        queue = live[rng.randrange(len(live))]
        sent.append(queue.pop(0))
        if not queue:
            live.remove(queue)
    return sent


def _shuffle_a_little(posts: list[Post], rng: random.Random) -> None:
    """Swap neighbours now and then: out of order, sometimes a scan before its shipment."""
    for n in range(1, len(posts)):
        if rng.random() < 0.15:
            posts[n - 1], posts[n] = posts[n], posts[n - 1]


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # carrier webhooks not sent on purpose (:func:`dropped`)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        lost = f"; {self.dropped} carrier webhooks dropped on purpose" if self.dropped else ""
        return f"{self.sent} deliveries ({codes}){lost}"


async def send(
    url: str,
    posts: Sequence[Post],
    *,
    rate: float,
    secrets: Mapping[str, str],
    outcome: Outcome | None = None,
    concurrency: int = 8,
    stop: threading.Event | None = None,
    drop_share: float = 0.0,
    seed: int = 0,
    on_drop: Callable[[Post], None] | None = None,
) -> Outcome:
    """POST each delivery to ``url``/v1/webhooks/<source> at about ``rate`` per second (until
    ``stop`` is set), leaving out the carrier webhooks :func:`dropped` picks for ``seed`` and
    ``drop_share`` (each handed to ``on_drop`` when its turn comes)."""
    import aiohttp

    outcome = outcome or Outcome()
    base = url.rstrip("/")
    interval = 1.0 / rate if rate > 0 else 0.0
    gate = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=30)

    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def deliver(post: Post) -> None:
            async with gate:
                headers = signed_headers(post, secrets[post.source], time.time())
                for attempt in range(5):
                    try:
                        async with session.post(
                            f"{base}/v1/webhooks/{post.source}", data=post.body, headers=headers
                        ) as response:
                            await response.read()
                            if response.status in (429, 503) and attempt < 4:
                                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                                continue
                            outcome.statuses[response.status] += 1
                            return
                    except (aiohttp.ClientError, TimeoutError) as error:
                        if attempt == 4:
                            outcome.failures[type(error).__name__] += 1
                            return
                        await asyncio.sleep(0.5 * (attempt + 1))

        started = time.monotonic()
        for n, post in enumerate(posts):
            if stop is not None and stop.is_set():
                break
            if dropped(post, seed, drop_share):
                outcome.dropped += 1
                if on_drop is not None:
                    on_drop(post)
                continue
            delay = started + n * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(deliver(post))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    return outcome


def wait_for_api(url: str, stop: threading.Event, timeout_s: float = 120.0) -> bool:
    """Whether the API at ``url`` answered before ``timeout_s`` (or ``stop``)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/track", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            stop.wait(0.5)
    return False


def stray_scans(count: int, *, seed: int, now: datetime) -> list[Post]:
    """Carrier scans of ``count`` parcels no order names (a label printed by hand, a shipment
    the warehouse never reported): they park, wait in the console's Unmatched scans, and an
    agent links each to its order by hand. Two scans each, a day apart."""
    posts: list[Post] = []
    for n in range(count):
        digest = hashlib.sha256(f"{seed}:stray:{n}".encode()).hexdigest()
        number = f"1ZSTRAY{int(digest[:12], 16) % 10**10:010d}"
        edd = (now + timedelta(days=2)).date()
        for step, status in enumerate(("info_received", "in_transit")):
            at = now - timedelta(days=1 - step, hours=n)
            body = ups_alert(number, at, status, None, edd)
            posts.append(Post("ups", body, f"sim-stray-{seed}-{n}-{step}", -1))
    return posts


def batches(
    orders: int,
    *,
    seed: int,
    now: datetime,
    days: float,
    forever: bool,
    branded: bool = False,
) -> Iterator[list[Post]]:
    """The first ``orders`` orders (the demo order first), then, if asked, more of them forever;
    ``branded``: each order one of the demo brands' (:data:`bench.orders.DEMO_BRANDS`)."""
    yield traffic(orders, seed=seed, now=now, days=days, branded=branded)
    first = orders
    while forever:
        batch = max(1, orders // 4)
        # later batches are new orders placed recently, told up to the moment they are sent
        yield traffic(
            batch,
            seed=seed,
            now=datetime.now(UTC),
            days=3.0,
            first_index=first,
            demo=False,
            branded=branded,
        )
        first += batch


def source_secrets(settings: Any) -> dict[str, str]:
    """The first live secret per simulated source (the development secret when none is set)."""
    from wismo.settings import DEV_SECRET

    configured = settings.webhook_secrets
    return {
        s: configured[s][0].get_secret_value() if configured.get(s) else DEV_SECRET for s in SOURCES
    }
