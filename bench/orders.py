"""The one synthetic order generator: the story of an order, deterministic for a seed and an index.

An order is placed (lines, one or two delivery groups with a promised date, a ship-by time and a
destination), paid (authorised and captured together, sometimes declined), fulfilled per group
(created → packed → shipped in one or two parcels, each with a carrier EDD), and each parcel is
scanned on its way: info received, in transit a few times, sometimes a problem (delay, weather,
customs, address, damage, loss, a failed attempt, a return to sender), out for delivery,
delivered. Some orders are cancelled, never shipped, have a label nobody scans, an EDD revision,
a partial change, or are returned and refunded. How often each happens is a :class:`Mix`.

A :class:`Story` holds what the order's sources tell, as canonical event documents grouped into
the deliveries that carry them (:class:`Told`), each with the moment it describes; carrier scans
keep what a carrier's native webhook needs (:class:`Scan`). Users render it: canonical events
(:meth:`Story.events`) for the fold, the stores, the log and the SLA, payloads on the raw topic
(:mod:`bench.history`), signed webhooks in each source's own format (:mod:`bench.webhooks`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from wismo.events import Event, event_from_dict

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CARRIERS = ("ups", "fedex", "dhl", "usps")
EMAIL = "customer{index}@example.com"
#: UK numbers set aside for drama (Ofcom): +44 7700 900000 to 900999 reach nobody
PHONE = "+447700900{serial:03d}"
#: the customer's language and time zone by destination country
CONTACT_BY_COUNTRY = {
    "GB": ("en-GB", "Europe/London"),
    "FR": ("fr-FR", "Europe/Paris"),
    "DE": ("de-DE", "Europe/Berlin"),
}
ORDER_NUMBER = 100000  # + the order's index
#: the demo brands of ``wismo up``: (brand, its sales channels, (locale, weight) of its orders)
DEMO_BRANDS: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, float], ...]], ...] = (
    ("northwind", ("web", "app"), (("en-GB", 0.7), ("fr-FR", 0.1), ("es-ES", 0.1), ("nl-NL", 0.1))),
    ("kaffeeberg", ("kaffeeberg-web",), (("de-DE", 0.75), ("nl-NL", 0.125), ("fr-FR", 0.125))),
)

#: (city, country, postal code, region)
Place = tuple[str, str, str, str]
CITIES: tuple[Place, ...] = (
    ("Leeds", "GB", "LS1 4AP", ""),
    ("Manchester", "GB", "M1 1AE", ""),
    ("Bristol", "GB", "BS1 5TR", ""),
    ("Glasgow", "GB", "G1 3SL", ""),
    ("Birmingham", "GB", "B2 4QA", ""),
    ("Cardiff", "GB", "CF10 1EP", ""),
)
ABROAD: tuple[Place, ...] = (
    ("Lyon", "FR", "69002", "ARA"),
    ("Paris", "FR", "75011", "IDF"),
    ("Munich", "DE", "80331", "BY"),
)
WAREHOUSES: tuple[tuple[str, Place], ...] = (
    ("WH-LEEDS", ("Leeds", "GB", "LS9 0PS", "")),
    ("WH-LYON", ("Lyon", "FR", "69007", "ARA")),
)
HUBS = ("East Midlands Hub", "Heathrow Gateway", "Coventry Sort", "Warrington Depot")
PRODUCTS = (
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
TROUBLES: tuple[tuple[str, str | None, float], ...] = (
    ("exception", "weather_delay", 0.06),
    ("exception", "carrier_delay", 0.06),
    ("exception", "customs_hold", 0.04),
    ("exception", "consignee_address_incomplete", 0.03),
    ("exception", "carrier_damaged", 0.02),
    ("exception", "carrier_lost", 0.015),
    ("attempt_fail", "consignee_not_available", 0.08),
    ("returning_to_sender", "consignee_refused", 0.03),
)


@dataclass(frozen=True)
class Mix:
    """How often an order runs into each thing (shares between 0 and 1) and what it is made of."""

    carriers: tuple[str, ...] = CARRIERS
    destinations: tuple[Place, ...] = CITIES
    warehouses: int = 1  # how many of :data:`WAREHOUSES` ship (lanes)
    lines: tuple[int, int] = (2, 4)  # lines per order: at least, at most
    in_transit: tuple[int, int] = (2, 4)  # in-transit scans per parcel: at least, at most
    days: float = 30.0  # orders are placed over this many days
    b2b: float = 0.0
    two_groups: float = 0.25
    split: float = 0.2  # a group shipped in two parcels
    cancelled: float = 0.03
    capture_failed: float = 0.03
    never_shipped: float = 0.04
    unscanned: float = 0.04  # a label nobody scans
    troubles: tuple[tuple[str, str | None, float], ...] = TROUBLES
    stalled: float = 0.25  # a troubled parcel that never arrives
    in_flight: float = 0.0  # a parcel still on its way: out for delivery, not delivered yet
    carrier_edd: float = 1.0  # shipments that say the carrier's EDD
    edd_revised: float = 0.15
    located: float = 0.6  # scans that say where and what (the rest are partial)
    changed: float = 0.0  # a partial order change (the sales channel only)
    returned: float = 0.12
    refunded: float = 0.7  # of the returns
    phone: float = 0.6  # orders placed with a mobile number (delivery texts)
    located_customer: float = 0.9  # orders that say the customer's language and time zone
    exception_opened: float = 0.0  # per parcel: an exception told as an event (the log's shape)
    lanes: bool = (
        False  # transit times and late rates by lane, weekday effects (:func:`_lane_walk`)
    )
    branded: bool = False  # each order one of the :data:`DEMO_BRANDS`' (channel, brand, locale)


#: every kind of order and trouble, as ``wismo simulate`` sends them
LIVELY = Mix()
#: the same kinds, fewer scans per parcel, half the parcels still on their way, some changes
HISTORY = replace(LIVELY, in_transit=(1, 2), in_flight=0.5, changed=0.2, located=0.5)
#: the history's kinds, one parcel per order, about ten events each: the stream the throughput
#: and rebuild benches push through the fold
FLOW = replace(HISTORY, two_groups=0.0, split=0.0)
#: every order ships, in one parcel
ONE_PARCEL = replace(LIVELY, two_groups=0.0, split=0.0, cancelled=0.0, never_shipped=0.0)
#: one parcel per order, no trouble, never delivered (so later scans still show): the benches
STEADY = replace(
    ONE_PARCEL,
    lines=(2, 2),
    in_transit=(2, 2),
    capture_failed=0.0,
    unscanned=0.0,
    troubles=(),
    in_flight=1.0,
    edd_revised=0.0,
    located=1.0,
    returned=0.0,
)
#: every kind the SLA report counts: lanes abroad, business orders, exceptions in the log
SLA = replace(
    LIVELY,
    carriers=("ups", "fedex", "dhl"),
    destinations=CITIES[:2] + ABROAD,
    warehouses=2,
    days=21.0,
    b2b=0.3,
    carrier_edd=0.85,
    edd_revised=0.3,
    returned=0.2,
    exception_opened=0.25,
)
#: the UK cities again, each with its region, so lanes within the UK differ
REGIONAL_CITIES: tuple[Place, ...] = (
    ("Leeds", "GB", "LS1 4AP", "YOR"),
    ("Manchester", "GB", "M1 1AE", "NW"),
    ("Bristol", "GB", "BS1 5TR", "SW"),
    ("Glasgow", "GB", "G1 3SL", "SCT"),
    ("Birmingham", "GB", "B2 4QA", "WM"),
    ("Cardiff", "GB", "CF10 1EP", "WLS"),
)
#: a past that prediction can learn from (docs/prediction.md): four months of orders from two
#: warehouses to regions at home and abroad, each carrier, origin and destination lane with a
#: transit time and a late rate of its own, no Sunday deliveries, carriers quoting a flat EDD
LANES = replace(
    LIVELY,
    destinations=REGIONAL_CITIES + ABROAD,
    warehouses=2,
    days=120.0,
    returned=0.0,
    lanes=True,
)
#: hours a carrier takes at home, ground (its quoted EDD says whole days, see :func:`_quoted`)
CARRIER_HOURS = {"ups": 30.0, "fedex": 38.0, "dhl": 46.0, "usps": 60.0}
CARRIER_QUOTED_DAYS = {"ups": 2, "fedex": 2, "dhl": 3, "usps": 3}


@dataclass(frozen=True, slots=True)
class Lane:
    """Where a parcel goes and by which service: what its :func:`_lane_walk` depends on."""

    origin: Place
    destination: Place
    service: str

    def profile(self, carrier: str) -> tuple[float, float]:
        """The lane's typical transit hours and late rate: properties of the world, the same for
        every seed (each lane's own generator)."""
        origin, destination = self.origin, self.destination
        rng = random.Random(f"lane:{carrier}:{origin[3] or origin[1]}:{destination[3]}")
        hours = CARRIER_HOURS.get(carrier, 48.0) + rng.uniform(0, 36)
        if origin[1] != destination[1]:
            hours += 12.0 if carrier == "dhl" else rng.uniform(24, 48)
        if self.service == "express":
            hours *= 0.6
        return hours, rng.uniform(0.02, 0.35)


def _quoted(carrier: str, lane: Lane, shipped: datetime) -> date:
    """The carrier's EDD: its flat quote by service and border, blind to the lane's record."""
    days = 1 if lane.service == "express" else CARRIER_QUOTED_DAYS.get(carrier, 3)
    return shipped.date() + timedelta(days=days + (lane.origin[1] != lane.destination[1]))


@dataclass(frozen=True, slots=True)
class Scan:
    """A carrier scan as its carrier's own webhook would say it."""

    carrier: str
    number: str
    status: str
    reason: str | None
    edd: date


@dataclass(frozen=True, slots=True)
class Told:
    """One delivery: the canonical events ``source`` sends together, and the moment it tells."""

    at: datetime
    source: str
    events: tuple[dict[str, Any], ...]
    key: str  # unique within the story: the delivery's id
    scan: Scan | None = None

    @property
    def body(self) -> dict[str, Any] | list[dict[str, Any]]:
        return self.events[0] if len(self.events) == 1 else list(self.events)


@dataclass(frozen=True, slots=True)
class Parcel:
    order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str


@dataclass
class Story:
    index: int
    order_id: str
    rng: random.Random
    now: datetime | None = None
    told: list[Told] = field(default_factory=list)
    parcels: list[Parcel] = field(default_factory=list)

    def tell(
        self,
        source: str,
        at: datetime,
        events: list[dict[str, Any]],
        key: str,
        scan: Scan | None = None,
    ) -> None:
        if self.now is not None and at > self.now:  # it has not happened yet
            return
        self.told.append(Told(at, source, tuple(events), key, scan))

    def event(
        self, source: str, kind: str, at: datetime, payload: dict[str, Any], key: str
    ) -> None:
        """One event about the order, told on its own."""
        self.tell(
            source, at, [_event(f"{source}:{key}", source, kind, at, payload, self.order_id)], key
        )

    def documents(self) -> Iterator[dict[str, Any]]:
        for told in self.told:
            yield from told.events

    def events(
        self, *, received_at: datetime | None = None, link_scans: bool = False
    ) -> list[Event]:
        """The canonical events in the order they happened (received ``received_at``, else
        three seconds after they happened); carrier scans name their order only with
        ``link_scans``."""
        out: list[Event] = []
        for document in self.documents():
            at = received_at or datetime.fromisoformat(document["occurred_at"]) + timedelta(
                seconds=3
            )
            item = {**document, "received_at": at.isoformat()}
            if link_scans and "tracking_number" in item:
                item["order_id"] = self.order_id
            out.append(event_from_dict(item))
        return sorted(out, key=lambda event: event.occurred_at)


def _event(
    event_id: str,
    source: str,
    kind: str,
    at: datetime,
    payload: dict[str, Any],
    order_id: str | None = None,
    tracking_number: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": event_id,
        "source": source,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "payload": payload,
    }
    if order_id is not None:
        event["order_id"] = order_id
    if tracking_number is not None:
        event["tracking_number"] = tracking_number
    return event


def order_rng(seed: int | str, index: int) -> random.Random:
    return random.Random(f"{seed}:{index}")


def tracking_number(carrier: str, index: int, group: str = "G1", parcel: int = 0) -> str:
    """A number shaped like the carrier's own (UPS 1Z…, FedEx 12 digits and more, …). Its serial
    (3,000,000 + index, then the group and parcel as digits from 5 up) never contains an order
    number (100000 + index)."""
    serial = f"{3_000_000 + index:07d}{4 + int(group[-1])}{7 + parcel}"
    if carrier == "ups":
        return f"1Z999AA1{serial}"
    if carrier == "fedex":
        return f"7{serial}{index % 10}"
    if carrier == "usps":
        return f"94001{serial}{index % 10:02d}"
    return f"JD01{serial}"


def story(
    index: int,
    *,
    seed: int | str = 0,
    mix: Mix = LIVELY,
    order_id: str = "ORD-{index}",
    start: datetime = BASE,
    now: datetime | None = None,
    demo: bool = False,
) -> Story:
    """Order ``index``'s story: placed within ``mix.days`` after ``start``, told up to ``now``
    (everything, when ``now`` is ``None``). ``order_id`` is a template of ``index`` and ``seed``.
    The ``demo`` order is placed 40 to 80 hours before ``now``, has two groups, one of them split
    between UPS and FedEx, no trouble, and its first parcel's scans spread up to ``now``."""
    rng = order_rng(seed, index)
    told = Story(index, order_id.format(index=index, seed=seed), rng, now)
    if demo:
        placed = (now or start) - timedelta(hours=rng.uniform(40, 80))
    else:
        placed = start + timedelta(hours=rng.uniform(0, mix.days * 24))
    destination = mix.destinations[index % len(mix.destinations)]
    names = rng.sample(PRODUCTS, rng.randrange(mix.lines[0], mix.lines[1] + 1))
    lines: list[dict[str, Any]] = [
        {
            "line_id": f"L{n}",
            "sku": f"SKU-{PRODUCTS.index(name) + 1:04d}",
            "name": name,
            "quantity": rng.randrange(1, 3),
            "unit_price": f"{rng.randrange(8, 120)}.00",
        }
        for n, name in enumerate(names, 1)
    ]
    two_groups = demo or rng.random() < mix.two_groups
    groups = [lines[: len(lines) // 2 + 1], lines[len(lines) // 2 + 1 :]] if two_groups else [lines]
    groups = [g for g in groups if g]
    delivery_groups = [
        {
            "group_id": f"G{n}",
            "method": "express" if n == 2 else "standard",
            "promised_delivery_date": (
                placed + timedelta(days=rng.randrange(2, 5) - (n - 1) + (2 if mix.lanes else 0))
            )
            .date()
            .isoformat(),
            "ship_by": (placed + timedelta(hours=rng.randrange(20, 40))).isoformat(),
            "destination": _place(destination),
            "line_ids": [line["line_id"] for line in group],
        }
        for n, group in enumerate(groups, 1)
    ]
    total = sum(int(line["unit_price"].split(".")[0]) * line["quantity"] for line in lines)
    placed_payload = {
        "order_number": f"{ORDER_NUMBER + index}",
        "customer_email": EMAIL.format(index=index),
        **_contact(seed, index, destination, mix),
        "channel": "b2b" if rng.random() < mix.b2b else "b2c",
        "sales_channel": rng.choice(("web", "app")),
        "placed_at": placed.isoformat(),
        "currency": "GBP",
        "total_amount": f"{total}.00",
        "lines": lines,
        "delivery_groups": delivery_groups,
    }
    branded = branding(seed, index) if mix.branded else {}
    placed_payload |= branded
    told.event("oms", "order.placed", placed, placed_payload, f"{told.order_id}:placed")
    _pay(told, mix, placed, total, demo)
    if not demo and rng.random() < mix.changed:  # a partial change: only the sales channel is said
        at = placed + timedelta(minutes=2)
        change = {"sales_channel": "app"}
        if branded:  # the brand's last channel, said with the brand
            brand = branded["brand"]
            change = {"sales_channel": {b: c for b, c, _ in DEMO_BRANDS}[brand][-1], "brand": brand}
        told.event("oms", "order.changed", at, change, f"{told.order_id}:changed")
    if not demo and rng.random() < mix.cancelled:  # cancelled before anything shipped
        at = placed + timedelta(hours=rng.uniform(0.5, 6))
        cancel = {"reason": "customer_request"}
        told.event("oms", "order.cancelled", at, cancel, f"{told.order_id}:cancelled")
        return told
    delivered_any = False
    for group, lines_of_group in zip(delivery_groups, groups, strict=True):
        delivered_any |= _fulfil(told, mix, group, lines_of_group, placed, demo)
    if delivered_any and not demo and rng.random() < mix.returned:
        _return(told, mix, lines, placed)
    return told


def _contact(seed: int | str, index: int, destination: Place, mix: Mix) -> dict[str, str]:
    """The order's phone number, locale and time zone, drawn from a generator of their own so
    the rest of the story does not depend on them."""
    rng = random.Random(f"{seed}:{index}:contact")
    contact: dict[str, str] = {}
    if rng.random() < mix.phone:
        contact["customer_phone"] = PHONE.format(serial=index % 1000)
    if rng.random() < mix.located_customer:
        locale, time_zone = CONTACT_BY_COUNTRY.get(destination[1], ("en-GB", "Europe/London"))
        contact["locale"], contact["time_zone"] = locale, time_zone
    return contact


def branding(seed: int | str, index: int) -> dict[str, str]:
    """The order's brand, its sales channel and locale (about half each brand), drawn from a
    generator of their own so the rest of the story does not depend on them."""
    rng = random.Random(f"{seed}:{index}:brand")
    brand, channels, locales = DEMO_BRANDS[rng.random() < 0.5]
    (locale,) = rng.choices([loc for loc, _ in locales], [w for _, w in locales])
    return {"brand": brand, "sales_channel": rng.choice(channels), "locale": locale}


def _place(place: Place) -> dict[str, str]:
    city, country, postcode, region = place
    return {"city": city, "postal_code": postcode, "country": country} | (
        {"region": region} if region else {}
    )


def _pay(told: Story, mix: Mix, placed: datetime, total: int, demo: bool) -> None:
    order_id = told.order_id
    payment = {
        "payment_id": f"PAY-{order_id}",
        "amount": f"{total}.00",
        "currency": "GBP",
        "method": "card",
    }
    auth = placed + timedelta(seconds=20)
    failed = not demo and told.rng.random() < mix.capture_failed
    kind = "payment.failed" if failed else "payment.captured"
    capture = {**payment, "failure_reason": "card_declined"} if failed else payment
    then = auth + timedelta(minutes=3)
    told.tell(
        "oms",
        auth,
        [
            _event(f"oms:{order_id}:auth", "oms", "payment.authorized", auth, payment, order_id),
            _event(f"oms:{order_id}:capture", "oms", kind, then, capture, order_id),
        ],
        f"{order_id}:payment",
    )


def _fulfil(
    told: Story,
    mix: Mix,
    group: dict[str, Any],
    lines: list[dict[str, Any]],
    placed: datetime,
    demo: bool,
) -> bool:
    """Fulfilment and the parcel walks of one delivery group; whether anything was delivered."""
    rng, order_id = told.rng, told.order_id
    fo_id = f"FO-{order_id}-{group['group_id']}"
    created = placed + timedelta(minutes=rng.randrange(5, 60))
    warehouse, origin = WAREHOUSES[rng.randrange(max(1, mix.warehouses))]
    quantities = [{"line_id": line["line_id"], "quantity": line["quantity"]} for line in lines]
    fo = {"fulfilment_order_id": fo_id, "warehouse": warehouse}
    created_payload = {
        **fo,
        "delivery_group_id": group["group_id"],
        "lines": quantities,
        "ship_by": group["ship_by"],
    }
    told.event("wms", "fulfilment.created", created, created_payload, f"{fo_id}:created")
    if not demo and rng.random() < mix.never_shipped:  # stuck in the warehouse
        return False
    picked = created + timedelta(hours=rng.uniform(1, 12))
    told.event("wms", "fulfilment.packed", picked, fo, f"{fo_id}:packed")
    shipped = picked + timedelta(hours=rng.uniform(0.5, 14))
    carriers = ("ups", "fedex") if demo else (rng.choice(mix.carriers),)
    split = demo or (len(quantities) > 1 and rng.random() < mix.split)
    parcels = [quantities[:1], quantities[1:]] if split and len(quantities) > 1 else [quantities]
    delivered = False
    for n, parcel in enumerate(parcels):
        carrier = carriers[n % len(carriers)]
        number = tracking_number(carrier, told.index, group["group_id"], n)
        shipment_id = f"SH-{order_id}-{group['group_id']}-{n}"
        edd = date.fromisoformat(group["promised_delivery_date"]) + timedelta(
            days=rng.choice((0, 0, 0, 1))
        )
        service = "express" if group["method"] == "express" else "ground"
        lane = Lane(origin, destination_of(group), service) if mix.lanes and not demo else None
        if lane is not None:
            edd = _quoted(carrier, lane, shipped)
        ship_payload = {
            "shipment_id": shipment_id,
            "fulfilment_order_id": fo_id,
            "carrier": carrier,
            "service": service,
            "tracking_number": number,
            "lines": parcel,
            "shipped_at": shipped.isoformat(),
            "origin": _place(origin),
            "destination": group["destination"],
        }
        if rng.random() < mix.carrier_edd:
            ship_payload["carrier_edd"] = edd.isoformat()
        told.event("wms", "fulfilment.shipped", shipped, ship_payload, f"{fo_id}:shipped:{n}")
        told.parcels.append(Parcel(order_id, shipment_id, carrier, number))
        if lane is not None:
            delivered |= _lane_walk(told, mix, carrier, number, shipped, edd, lane)
        else:
            delivered |= _walk(told, mix, carrier, number, shipped, edd, demo and n == 0)
        if rng.random() < mix.exception_opened:
            _exception(told, shipment_id, number, shipped)
    return delivered


def _walk(
    told: Story,
    mix: Mix,
    carrier: str,
    number: str,
    shipped: datetime,
    edd: date,
    keep_moving: bool,
) -> bool:
    """The carrier scans of one parcel; whether it was delivered."""
    rng = told.rng
    if not keep_moving and rng.random() < mix.unscanned:  # a label nobody ever scans
        _scan(told, mix, carrier, number, shipped, "info_received", None, edd, 0)
        return False
    steps: list[tuple[str, str | None]] = [("info_received", None)]
    steps += [("in_transit", None)] * rng.randrange(mix.in_transit[0], mix.in_transit[1] + 1)
    trouble = None
    if not keep_moving:
        roll, acc = rng.random(), 0.0
        for status, reason, share in mix.troubles:
            acc += share
            if roll < acc:
                trouble = (status, reason)
                break
    arrives = True
    if trouble is not None:
        steps.append(trouble)
        if trouble[0] == "returning_to_sender":
            steps += [("returning_to_sender", None), ("returned_to_sender", None)]
            arrives = False
        elif trouble[1] == "carrier_lost" or rng.random() < mix.stalled:
            arrives = False  # stalled: the sweeper notices
    if arrives:
        steps.append(("out_for_delivery", None))
        if keep_moving or rng.random() >= mix.in_flight:
            steps.append(("delivered", None))
    at = shipped + timedelta(minutes=rng.randrange(10, 90))
    # the demo parcel is spread up to now, so its last scans are recent
    now = told.now or at
    span = 1.0 if not keep_moving else max(0.1, (now - at).total_seconds() / 3600 / len(steps) / 5)
    delivered = False
    for n, (status, reason) in enumerate(steps):
        if told.now is not None and at > told.now:
            break
        _scan(told, mix, carrier, number, at, status, reason, edd, n)
        delivered |= status == "delivered"
        at += timedelta(hours=rng.uniform(2, 16) * span)
    if rng.random() < mix.edd_revised:
        revised = edd + timedelta(days=1)
        at = shipped + timedelta(hours=6)
        payload = {"estimated_delivery": revised.isoformat(), "carrier": carrier}
        event = _event(
            f"{carrier}:{number}:edd", carrier, "edd.revised", at, payload, tracking_number=number
        )
        told.tell("oms", at, [event], f"{number}:edd")
    return delivered


def destination_of(group: dict[str, Any]) -> Place:
    place = group["destination"]
    return (place["city"], place["country"], place["postal_code"], place.get("region", ""))


def _lane_walk(
    told: Story, mix: Mix, carrier: str, number: str, shipped: datetime, edd: date, lane: Lane
) -> bool:
    """The carrier scans of one parcel on a lane (the ``lanes`` mixes): the transit time is the
    lane's typical one with noise, a day or three more at the lane's late rate or after a
    problem, never delivered on a Sunday; the scans spread over it. The carrier revises its EDD
    for half the parcels it knows will be late. Whether it was delivered."""
    rng = told.rng
    typical, late_rate = lane.profile(carrier)
    steps: list[tuple[str, str | None]] = [("info_received", None)]
    steps += [("in_transit", None)] * rng.randrange(mix.in_transit[0], mix.in_transit[1] + 1)
    trouble = None
    roll, acc = rng.random(), 0.0
    for status, reason, share in mix.troubles:
        acc += share
        if roll < acc:
            trouble = (status, reason)
            break
    hours = typical * rng.lognormvariate(0, 0.15)
    if rng.random() < late_rate:
        hours += rng.uniform(20, 72)
    arrives = True
    if trouble is not None:
        steps.append(trouble)
        hours += rng.uniform(24, 60)
        if trouble[0] == "returning_to_sender":
            steps += [("returning_to_sender", None), ("returned_to_sender", None)]
            arrives = False
        elif trouble[1] == "carrier_lost" or rng.random() < mix.stalled:
            arrives = False
    first = shipped + timedelta(minutes=rng.randrange(10, 90))
    times = [first]
    if arrives:
        delivered_at = first + timedelta(hours=hours)
        if delivered_at.isoweekday() == 7:  # no deliveries on Sundays
            delivered_at += timedelta(hours=24)
        ofd = delivered_at - timedelta(hours=rng.uniform(2, 7))
        between = sorted(rng.uniform(0, 1) for _ in steps[1:])
        times += [first + (ofd - first) * share for share in between]
        steps.append(("out_for_delivery", None))
        times.append(ofd)
        if rng.random() >= mix.in_flight:
            steps.append(("delivered", None))
            times.append(delivered_at)
        if delivered_at.date() > edd and rng.random() < 0.5:
            at = first + (ofd - first) * 0.5
            payload = {"estimated_delivery": delivered_at.date().isoformat(), "carrier": carrier}
            event = _event(
                f"{carrier}:{number}:edd", carrier, "edd.revised", at, payload,
                tracking_number=number,
            )  # fmt: skip
            told.tell("oms", at, [event], f"{number}:edd")
    else:
        for _ in steps[1:]:
            times.append(times[-1] + timedelta(hours=rng.uniform(2, 16)))
    delivered = False
    for n, ((status, reason), at) in enumerate(zip(steps, times, strict=True)):
        if told.now is not None and at > told.now:
            break
        _scan(told, mix, carrier, number, at, status, reason, edd, n)
        delivered |= status == "delivered"
    return delivered


def _scan(
    told: Story,
    mix: Mix,
    carrier: str,
    number: str,
    at: datetime,
    status: str,
    reason: str | None,
    edd: date,
    n: int,
) -> None:
    checkpoint: dict[str, Any] = {
        "status": status,
        "carrier": carrier,
        "raw_code": f"{carrier.upper()}-{status[:3].upper()}",
    }
    if reason:
        checkpoint["reason"] = reason
    if told.rng.random() < mix.located:  # the rest are partial: no place, no words
        hub = HUBS[n % len(HUBS)]
        checkpoint["location"] = {
            "facility": hub,
            "city": CITIES[n % len(CITIES)][0],
            "country": "GB",
        }
        checkpoint["message"] = f"{status.replace('_', ' ')} at {hub}"
    key = f"{number}:{n}"
    event = _event(
        f"{carrier}:{key}", carrier, "tracking.checkpoint", at, checkpoint, tracking_number=number
    )
    told.tell("oms", at, [event], key, Scan(carrier, number, status, reason, edd))


def _exception(told: Story, shipment_id: str, number: str, shipped: datetime) -> None:
    """An exception the detector opened, as the log holds it."""
    rng = told.rng
    at = shipped + timedelta(hours=50)
    payload = {
        "exception_id": f"exc:{told.order_id}:{shipment_id}",
        "type": rng.choice(("stalled", "carrier_reported")),
        "severity": "medium",
        "owner": "carrier",
        "subject": rng.choice((shipment_id, number)),
        "reason": rng.choice(("weather_delay", "customs_hold")),
        "message": "Held",
    }
    told.event("wismo", "exception.opened", at, payload, f"exc:{shipment_id}")


def _return(told: Story, mix: Mix, lines: list[dict[str, Any]], placed: datetime) -> None:
    rng, order_id = told.rng, told.order_id
    rma = f"RMA-{order_id}"
    line = [{"line_id": lines[0]["line_id"], "quantity": 1}]
    at = placed + timedelta(days=rng.uniform(4, 8))
    number = f"1Z999RR1{told.index:010d}"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("return.authorized", {"return_id": rma, "lines": line, "reason": "does not fit"}),
        ("return.in_transit", {"return_id": rma, "carrier": "ups", "tracking_number": number}),
        ("return.received", {"return_id": rma, "lines": line}),
    ]
    for kind, payload in steps:
        told.event("oms", kind, at, payload, f"{rma}:{kind}")
        at += timedelta(days=rng.uniform(0.5, 2))
    if rng.random() < mix.refunded:  # the rest wait for their refund: overdue
        refund = {
            "refund_id": f"RF-{order_id}",
            "return_id": rma,
            "amount": lines[0]["unit_price"],
            "currency": "GBP",
        }
        told.event("oms", "refund.issued", at, refund, f"{rma}:refund")


def stories(
    orders: int, *, seed: int | str = 0, mix: Mix = LIVELY, first: int = 0, **options: Any
) -> Iterator[Story]:
    for index in range(first, first + orders):
        yield story(index, seed=seed, mix=mix, **options)


def malformed(n: int, at: datetime) -> bytes:
    """A payload no source should send (cut off, a status nobody knows, no time): the API or
    the normaliser must refuse it."""
    variant = n % 3
    if variant == 0:
        return b'{"kind": "order.placed", "order_id": "BROKEN-' + str(n).encode()  # cut short
    if variant == 1:
        teleported = {"status": "teleported"}
        scan = _event(f"ups:BAD-{n}", "ups", "tracking.checkpoint", at, teleported)
        return orjson.dumps(scan | {"tracking_number": f"BAD{n:08d}"})
    return orjson.dumps(
        {
            "event_id": f"oms:NOTIME-{n}",
            "kind": "order.placed",
            "order_id": f"NOTIME-{n}",
            "payload": {},
        }
    )


def live_scan(parcel: Parcel, event_id: str, at: datetime, message: str = "") -> dict[str, Any]:
    """One more in-transit scan of ``parcel``, as the benches' live traffic sends them."""
    checkpoint = {
        "status": "in_transit",
        "carrier": parcel.carrier,
        "raw_code": "IT",
        "location": {"city": "Leeds", "country": "GB"},
    }
    if message:
        checkpoint["message"] = message
    kind = "tracking.checkpoint"
    return _event(event_id, parcel.carrier, kind, at, checkpoint, None, parcel.tracking_number)
