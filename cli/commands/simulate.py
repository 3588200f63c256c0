"""``wismo simulate``: realistic, messy traffic posted to a running API's webhooks.

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

import argparse
import asyncio
import hashlib
import hmac
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from cli.commands import SubParsers

SOURCES = ("oms", "wms", "ups", "fedex")
CARRIERS = ("ups", "fedex", "dhl", "usps")
DEMO_EMAIL = "customer{index}@example.com"
_WINDOW = 6  # orders told at the same time
_CITIES = (
    ("Leeds", "GB", "LS1 4AP"),
    ("Manchester", "GB", "M1 1AE"),
    ("Bristol", "GB", "BS1 5TR"),
    ("Glasgow", "GB", "G1 3SL"),
    ("Birmingham", "GB", "B2 4QA"),
    ("Cardiff", "GB", "CF10 1EP"),
)
_HUBS = ("East Midlands Hub", "Heathrow Gateway", "Coventry Sort", "Warrington Depot")
_PRODUCTS = (
    "Trail running shoes",
    "Rain jacket",
    "Merino socks (3 pack)",
    "Water bottle",
    "Head torch",
    "Day pack 20 l",
    "Thermal base layer",
    "Wool beanie",
)
#: (status, reason) of the problem a walk may run into, and how often
_TROUBLES: tuple[tuple[str, str | None, float], ...] = (
    ("exception", "weather_delay", 0.06),
    ("exception", "carrier_delay", 0.06),
    ("exception", "customs_hold", 0.04),
    ("exception", "consignee_address_incomplete", 0.03),
    ("exception", "carrier_damaged", 0.02),
    ("exception", "carrier_lost", 0.015),
    ("attempt_fail", "consignee_not_available", 0.08),
    ("returning_to_sender", "consignee_refused", 0.03),
)


@dataclass(frozen=True, slots=True)
class Post:
    """One webhook delivery: where it goes, its bytes and its delivery id (signed when sent)."""

    source: str
    body: bytes
    delivery_id: str
    order: int  # index of the order it belongs to, -1 for junk
    malformed: bool = False


# ---------------------------------------------------------------------------------------------
# Native formats


def ups_alert(number: str, at: datetime, status: str, reason: str | None, edd: date) -> bytes:
    type_, code, text = _UPS.get((status, reason)) or _UPS[(status, None)]
    city, country, postcode = _CITIES[int(number[-3:]) % len(_CITIES)]
    body: dict[str, Any] = {
        "trackingNumber": number,
        "localActivityDate": at.strftime("%Y%m%d"),
        "localActivityTime": at.strftime("%H%M%S"),
        "gmtActivityDate": at.strftime("%Y%m%d"),
        "gmtActivityTime": at.strftime("%H%M%S"),
        "activityStatus": {
            "type": type_,
            "code": code,
            "description": text,
            "descriptionCode": code,
        },
        "scheduledDeliveryDate": "" if status == "delivered" else edd.strftime("%Y%m%d"),
        "actualDeliveryDate": at.strftime("%Y%m%d") if status == "delivered" else "",
        "actualDeliveryTime": at.strftime("%H%M%S") if status == "delivered" else "",
    }
    if int(number[-2:]) % 2 == 0:  # half the scans say where they happened
        body["activityLocation"] = {
            "city": city,
            "stateProvince": "",
            "postalCode": postcode,
            "country": country,
        }
    return orjson.dumps(body)


_UPS: dict[tuple[str, str | None], tuple[str, str, str]] = {
    ("info_received", None): ("M", "003", "Shipment Ready for UPS"),
    ("in_transit", None): ("I", "005", "On the Way"),
    ("out_for_delivery", None): ("I", "021", "Out for Delivery"),
    ("delivered", None): ("D", "011", "Delivered"),
    ("attempt_fail", None): ("X", "022", "First Attempt Made"),
    ("exception", None): ("X", "013", "Exception"),
    ("exception", "weather_delay"): ("X", "051", "Delay: Severe Weather"),
    ("exception", "carrier_delay"): ("X", "046", "Delay"),
    ("exception", "consignee_address_incomplete"): ("X", "049", "Address Information Required"),
    ("returning_to_sender", None): ("RS", "035", "Returning to Sender"),
    ("returned_to_sender", None): ("RS", "034", "Returned to Sender"),
}

_FEDEX: dict[tuple[str, str | None], tuple[str, str]] = {
    ("info_received", None): ("OC", "Shipment information sent to FedEx"),
    ("in_transit", None): ("IT", "In transit"),
    ("out_for_delivery", None): ("OD", "On FedEx vehicle for delivery"),
    ("delivered", None): ("DL", "Delivered"),
    ("attempt_fail", None): ("DE", "Delivery exception"),
    ("exception", None): ("SE", "Shipment exception"),
    ("exception", "carrier_delay"): ("DY", "Delay"),
    ("exception", "customs_hold"): ("CD", "Clearance delay"),
    ("returning_to_sender", None): ("RS", "Return to shipper"),
}


def fedex_push(number: str, at: datetime, status: str, reason: str | None, edd: date) -> bytes:
    code, text = (
        _FEDEX.get((status, reason)) or _FEDEX.get((status, None)) or _FEDEX[("in_transit", None)]
    )
    city, country, postcode = _CITIES[int(number[-3:]) % len(_CITIES)]
    scan = {
        "date": at.isoformat(),
        "eventType": code,
        "eventDescription": text,
        "exceptionCode": "",
        "exceptionDescription": "",
        "scanLocation": {"city": city, "postalCode": postcode, "countryCode": country},
        "derivedStatusCode": code,
        "derivedStatus": text,
    }
    result = {
        "trackingNumberInfo": {"trackingNumber": number, "carrierCode": "FDXG"},
        "latestStatusDetail": {},
        "dateAndTimes": [
            {"type": "ESTIMATED_DELIVERY", "dateTime": f"{edd.isoformat()}T00:00:00Z"}
        ],
        "scanEvents": [scan],
        "serviceDetail": {"type": "FEDEX_GROUND", "description": "FedEx Ground"},
    }
    return orjson.dumps(
        {
            "transactionId": f"sim-{number}-{at.timestamp():.0f}",
            "output": {
                "completeTrackResults": [{"trackingNumber": number, "trackResults": [result]}]
            },
        }
    )


def _event(event_id: str, kind: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "kind": kind, "occurred_at": at.isoformat(), "payload": payload}


# ---------------------------------------------------------------------------------------------
# Orders


@dataclass
class _Order:
    """The deliveries of one order, each with the instant it describes."""

    index: int
    rng: random.Random
    now: datetime
    posts: list[tuple[datetime, Post]] = field(default_factory=list)

    def add(self, source: str, at: datetime, body: Any, key: str) -> None:
        if at > self.now:  # it has not happened yet
            return
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        self.posts.append((at, Post(source, raw, f"sim-{key}", self.index)))

    def canonical(self, source: str, at: datetime, event: dict[str, Any]) -> None:
        self.add(source, at, event, event["event_id"])


def _order(index: int, seed: int, now: datetime, days: float, demo: bool) -> _Order:
    rng = random.Random(f"{seed}:{index}")
    order = _Order(index, rng, now)
    order_id = f"SIM{seed}-{index:06d}"
    keys = {"order_id": order_id}
    # the demo order was placed a few days ago, so it has a story and is still moving
    age_h = rng.uniform(40, 80) if demo else rng.uniform(2, days * 24)
    placed = now - timedelta(hours=age_h)
    city, country, postcode = _CITIES[index % len(_CITIES)]
    names = rng.sample(_PRODUCTS, rng.randrange(2, 5))
    lines: list[dict[str, Any]] = [
        {
            "line_id": f"L{n}",
            "sku": f"SKU-{_PRODUCTS.index(name) + 1:04d}",
            "name": name,
            "quantity": rng.randrange(1, 3),
            "unit_price": f"{rng.randrange(8, 120)}.00",
        }
        for n, name in enumerate(names, 1)
    ]
    two_groups = demo or rng.random() < 0.25
    groups = [lines[: len(lines) // 2 + 1], lines[len(lines) // 2 + 1 :]] if two_groups else [lines]
    groups = [g for g in groups if g]
    destination = {"city": city, "postal_code": postcode, "country": country}
    delivery_groups = [
        {
            "group_id": f"G{n}",
            "method": "express" if n == 2 else "standard",
            "promised_delivery_date": (placed + timedelta(days=rng.randrange(2, 5) - (n - 1)))
            .date()
            .isoformat(),
            "ship_by": (placed + timedelta(hours=rng.randrange(20, 40))).isoformat(),
            "destination": destination,
            "line_ids": [line["line_id"] for line in group],
        }
        for n, group in enumerate(groups, 1)
    ]
    total = sum(int(line["unit_price"].split(".")[0]) * line["quantity"] for line in lines)
    placed_payload = {
        "order_number": f"{100000 + index}",
        "customer_email": DEMO_EMAIL.format(index=index),
        "channel": "b2c",
        "sales_channel": rng.choice(("web", "app")),
        "placed_at": placed.isoformat(),
        "currency": "GBP",
        "total_amount": f"{total}.00",
        "lines": lines,
        "delivery_groups": delivery_groups,
    }
    order.canonical(
        "oms",
        placed,
        _event(f"oms:{order_id}:placed", "order.placed", placed, placed_payload) | keys,
    )
    payment = {
        "payment_id": f"PAY-{order_id}",
        "amount": f"{total}.00",
        "currency": "GBP",
        "method": "card",
    }
    auth = placed + timedelta(seconds=20)
    capture_failed = not demo and rng.random() < 0.03
    capture_kind = "payment.failed" if capture_failed else "payment.captured"
    capture_payload = {**payment, "failure_reason": "card_declined"} if capture_failed else payment
    order.add(
        "oms",
        auth,
        [
            _event(f"oms:{order_id}:auth", "payment.authorized", auth, payment) | keys,
            _event(
                f"oms:{order_id}:capture",
                capture_kind,
                auth + timedelta(minutes=3),
                capture_payload,
            )
            | keys,
        ],
        f"{order_id}:payment",
    )
    if not demo and rng.random() < 0.03:  # cancelled before anything shipped
        at = placed + timedelta(hours=rng.uniform(0.5, 6))
        cancel = {"reason": "customer_request"}
        order.canonical(
            "oms", at, _event(f"oms:{order_id}:cancelled", "order.cancelled", at, cancel) | keys
        )
        return order
    delivered_any = False
    for group, lines_of_group in zip(delivery_groups, groups, strict=True):
        delivered_any |= _fulfil(order, order_id, group, lines_of_group, placed, demo)
    if delivered_any and not demo and rng.random() < 0.12:
        _return(order, order_id, lines, placed)
    return order


def _fulfil(
    order: _Order,
    order_id: str,
    group: dict[str, Any],
    lines: list[dict[str, Any]],
    placed: datetime,
    demo: bool,
) -> bool:
    """Fulfilment and the parcel walks of one delivery group; whether anything was delivered."""
    rng, keys = order.rng, {"order_id": order_id}
    fo_id = f"FO-{order_id}-{group['group_id']}"
    created = placed + timedelta(minutes=rng.randrange(5, 60))
    ship_by = datetime.fromisoformat(group["ship_by"])
    quantities = [{"line_id": line["line_id"], "quantity": line["quantity"]} for line in lines]
    fo = {"fulfilment_order_id": fo_id, "warehouse": "WH-LEEDS"}
    created_payload = {
        **fo,
        "delivery_group_id": group["group_id"],
        "lines": quantities,
        "ship_by": ship_by.isoformat(),
    }
    order.canonical(
        "wms",
        created,
        _event(f"wms:{fo_id}:created", "fulfilment.created", created, created_payload) | keys,
    )
    if not demo and rng.random() < 0.04:  # stuck in the warehouse: never shipped
        return False
    picked = created + timedelta(hours=rng.uniform(1, 12))
    order.canonical(
        "wms", picked, _event(f"wms:{fo_id}:packed", "fulfilment.packed", picked, fo) | keys
    )
    shipped = picked + timedelta(hours=rng.uniform(0.5, 14))
    carriers = ("ups", "fedex") if demo else (rng.choice(CARRIERS),)
    split = demo or (len(quantities) > 1 and rng.random() < 0.2)
    parcels = [quantities[:1], quantities[1:]] if split and len(quantities) > 1 else [quantities]
    delivered = False
    for n, parcel in enumerate(parcels):
        carrier = carriers[n % len(carriers)]
        number = _tracking_number(carrier, order.index, group["group_id"], n)
        edd = date.fromisoformat(group["promised_delivery_date"]) + timedelta(
            days=rng.choice((0, 0, 0, 1))
        )
        ship_payload = {
            "shipment_id": f"SH-{order_id}-{group['group_id']}-{n}",
            "fulfilment_order_id": fo_id,
            "carrier": carrier,
            "service": "express" if group["method"] == "express" else "ground",
            "tracking_number": number,
            "lines": parcel,
            "carrier_edd": edd.isoformat(),
            "shipped_at": shipped.isoformat(),
            "origin": {"city": "Leeds", "postal_code": "LS9 0PS", "country": "GB"},
            "destination": group["destination"],
        }
        event_id = f"wms:{fo_id}:shipped:{n}"
        order.canonical(
            "wms", shipped, _event(event_id, "fulfilment.shipped", shipped, ship_payload) | keys
        )
        delivered |= _walk(order, carrier, number, shipped, edd, demo and n == 0)
    return delivered


def _tracking_number(carrier: str, index: int, group: str, parcel: int) -> str:
    serial = f"{index:07d}{group[-1]}{parcel}"
    if carrier == "ups":
        return f"1Z999AA1{serial}"
    if carrier == "fedex":
        return f"7{serial}{index % 10}"
    if carrier == "usps":
        return f"94001{serial}{index % 10:02d}"
    return f"JD01{serial}"


def _walk(
    order: _Order, carrier: str, number: str, shipped: datetime, edd: date, keep_moving: bool
) -> bool:
    """The carrier scans of one parcel; whether it was delivered."""
    rng = order.rng
    steps: list[tuple[str, str | None]] = [("info_received", None)]
    if not keep_moving and rng.random() < 0.04:  # a label nobody ever scanned
        at = shipped
        _scan(order, carrier, number, at, "info_received", None, edd, 0)
        return False
    steps += [("in_transit", None)] * rng.randrange(2, 5)
    trouble = None
    if not keep_moving:
        roll, acc = rng.random(), 0.0
        for status, reason, share in _TROUBLES:
            acc += share
            if roll < acc:
                trouble = (status, reason)
                break
    ends_delivered = True
    if trouble is not None:
        steps.append(trouble)
        if trouble[0] == "returning_to_sender":
            steps += [("returning_to_sender", None), ("returned_to_sender", None)]
            ends_delivered = False
        elif trouble[1] == "carrier_lost" or (not keep_moving and rng.random() < 0.25):
            ends_delivered = False  # stalled: the sweeper notices
    if ends_delivered:
        steps += [("out_for_delivery", None), ("delivered", None)]
    at = shipped + timedelta(minutes=rng.randrange(10, 90))
    # the demo parcel is spread up to now, so its last scans are recent
    span = (
        1.0
        if not keep_moving
        else max(0.1, (order.now - at).total_seconds() / 3600 / len(steps) / 5)
    )
    delivered = False
    for n, (status, reason) in enumerate(steps):
        if at > order.now:
            break
        _scan(order, carrier, number, at, status, reason, edd, n)
        delivered |= status == "delivered"
        at += timedelta(hours=rng.uniform(2, 16) * span)
    if rng.random() < 0.15 and not delivered:
        revised = edd + timedelta(days=1)
        event = _event(
            f"oms:{number}:edd",
            "edd.revised",
            shipped + timedelta(hours=6),
            {"estimated_delivery": revised.isoformat(), "carrier": carrier},
        )
        order.canonical(
            "oms",
            shipped + timedelta(hours=6),
            event | {"tracking_number": number, "source": carrier},
        )
    return delivered


def _scan(
    order: _Order,
    carrier: str,
    number: str,
    at: datetime,
    status: str,
    reason: str | None,
    edd: date,
    n: int,
) -> None:
    key = f"{number}:{n}"
    codes: Mapping[tuple[str, str | None], object] = (
        _UPS if carrier == "ups" else _FEDEX if carrier == "fedex" else {}
    )
    if (status, reason) in codes or (status, None) in codes:
        build = ups_alert if carrier == "ups" else fedex_push
        order.add(carrier, at, build(number, at, status, reason, edd), key)
        return
    checkpoint: dict[str, Any] = {
        "status": status,
        "carrier": carrier,
        "raw_code": f"{carrier.upper()}-{status[:3].upper()}",
    }
    if reason:
        checkpoint["reason"] = reason
    if order.rng.random() < 0.6:  # the rest are partial: no place, no words
        hub = _HUBS[n % len(_HUBS)]
        checkpoint["location"] = {
            "facility": hub,
            "city": _CITIES[n % len(_CITIES)][0],
            "country": "GB",
        }
        checkpoint["message"] = f"{status.replace('_', ' ')} at {hub}"
    event = _event(f"{carrier}:{key}", "tracking.checkpoint", at, checkpoint) | {
        "tracking_number": number,
        "source": carrier,
    }
    order.add("oms", at, event, key)


def _return(order: _Order, order_id: str, lines: list[dict[str, Any]], placed: datetime) -> None:
    rng, keys = order.rng, {"order_id": order_id}
    rma = f"RMA-{order_id}"
    line = [{"line_id": lines[0]["line_id"], "quantity": 1}]
    at = placed + timedelta(days=rng.uniform(4, 8))
    number = f"1Z999RR1{order.index:010d}"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("return.authorized", {"return_id": rma, "lines": line, "reason": "does not fit"}),
        ("return.in_transit", {"return_id": rma, "carrier": "ups", "tracking_number": number}),
        ("return.received", {"return_id": rma, "lines": line}),
    ]
    for kind, payload in steps:
        order.canonical("oms", at, _event(f"oms:{rma}:{kind}", kind, at, payload) | keys)
        at += timedelta(days=rng.uniform(0.5, 2))
    if rng.random() < 0.7:  # the rest wait for their refund: overdue
        refund = {
            "refund_id": f"RF-{order_id}",
            "return_id": rma,
            "amount": lines[0]["unit_price"],
            "currency": "GBP",
        }
        order.canonical("oms", at, _event(f"oms:{rma}:refund", "refund.issued", at, refund) | keys)


def _malformed(n: int, rng: random.Random, now: datetime) -> Post:
    variant = n % 3
    if variant == 0:
        body = b'{"kind": "order.placed", "order_id": "BROKEN-' + str(n).encode()  # cut short
    elif variant == 1:
        body = orjson.dumps(
            _event(f"oms:BAD-{n}", "tracking.checkpoint", now, {"status": "teleported"})
            | {"tracking_number": f"BAD{n:08d}"}
        )
    else:
        body = orjson.dumps(
            {
                "event_id": f"oms:NOTIME-{n}",
                "kind": "order.placed",
                "order_id": f"NOTIME-{n}",
                "payload": {},
            }
        )
    return Post("oms", body, f"sim-junk-{n}-{rng.randrange(10**9)}", -1, malformed=True)


# ---------------------------------------------------------------------------------------------
# Traffic


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
) -> list[Post]:
    """The deliveries of ``orders`` orders, in the order they are sent (see the module doc)."""
    rng = random.Random(f"{seed}:traffic:{first_index}")
    queues: list[list[Post]] = []
    late: list[Post] = []
    for index in range(first_index, first_index + orders):
        order = _order(index, seed, now, days, demo and index == 0)
        told = sorted(order.posts, key=lambda p: (p[0], p[1].delivery_id))
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
        sent.insert(rng.randrange(1, len(sent) + 1), _malformed(n + first_index, rng, now))
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


def signed_headers(post: Post, secret: str, sent_at: float) -> dict[str, str]:
    from carriers.standard_webhooks import sign

    headers = {"Content-Type": "application/json"}
    if post.source in ("oms", "wms"):
        timestamp = int(sent_at)
        headers["webhook-id"] = post.delivery_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = sign(secret, post.delivery_id, timestamp, post.body)
    elif post.source == "ups":
        headers["credential"] = secret
    elif post.source == "fedex":
        headers["fdx-signature"] = hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
    return headers


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        return f"{self.sent} deliveries ({codes})"


async def send(
    url: str,
    posts: Sequence[Post],
    *,
    rate: float,
    secrets: Mapping[str, str],
    outcome: Outcome | None = None,
    concurrency: int = 8,
    stop: threading.Event | None = None,
) -> Outcome:
    """POST each delivery to ``url``/v1/webhooks/<source> at about ``rate`` per second (until
    ``stop`` is set)."""
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


def batches(
    orders: int, *, seed: int, now: datetime, days: float, forever: bool
) -> Iterator[list[Post]]:
    """The first ``orders`` orders (the demo order first), then, if asked, more of them forever."""
    yield traffic(orders, seed=seed, now=now, days=days)
    first = orders
    while forever:
        batch = max(1, orders // 4)
        # later batches are new orders placed recently, told up to the moment they are sent
        yield traffic(
            batch, seed=seed, now=datetime.now(UTC), days=3.0, first_index=first, demo=False
        )
        first += batch


# ---------------------------------------------------------------------------------------------
# Command line


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="post realistic, signed webhook traffic to a running API",
        description="Post realistic, signed, messy webhook traffic to a running API: orders, "
        "payments, fulfilment, carrier scans, returns and refunds, deterministic for a seed.",
    )
    parser.add_argument(
        "--url", default=None, help="the API (default: the configured api host/port)"
    )
    parser.add_argument("--orders", type=int, default=50, help="orders in the first batch")
    parser.add_argument("--rate", type=float, default=20.0, help="deliveries per second")
    parser.add_argument("--seed", type=int, default=0, help="the same seed, the same traffic")
    parser.add_argument(
        "--days", type=float, default=42.0, help="orders placed over this many days"
    )
    parser.add_argument(
        "--now", type=datetime.fromisoformat, default=None, help="the simulated present (ISO time)"
    )
    parser.add_argument("--forever", action="store_true", help="keep sending new orders")
    parser.set_defaults(handler=run)


def source_secrets(settings: Any) -> dict[str, str]:
    """The first live secret per simulated source (the development secret when none is set)."""
    from wismo.settings import DEV_SECRET

    configured = settings.webhook_secrets
    return {
        s: configured[s][0].get_secret_value() if configured.get(s) else DEV_SECRET for s in SOURCES
    }


def run(args: argparse.Namespace) -> int:
    from wismo.settings import load_settings

    settings = load_settings()
    url = args.url or f"http://{settings.api.host}:{settings.api.port}"
    now = args.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    print(f"wismo simulate: {args.orders} orders to {url} at {args.rate:g}/s", file=sys.stderr)
    print(f"  demo order: number 100000, e-mail {DEMO_EMAIL.format(index=0)}", file=sys.stderr)
    outcome = Outcome()
    try:
        for posts in batches(
            args.orders, seed=args.seed, now=now, days=args.days, forever=args.forever
        ):
            asyncio.run(
                send(url, posts, rate=args.rate, secrets=source_secrets(settings), outcome=outcome)
            )
            print(f"wismo simulate: {outcome.summary()}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"wismo simulate: stopped after {outcome.summary()}", file=sys.stderr)
        return 130
    if outcome.failures:
        print(f"wismo simulate: not delivered: {dict(outcome.failures)}", file=sys.stderr)
        return 1
    return 0
