"""Hypothesis strategies for realistic order histories (canonical events of one order).

A history has an order with lines and a promised date, fulfilment orders, split shipments with
one or more packages, carrier checkpoints that move forwards with the odd exception, stray and
late scans, EDD revisions, payments, returns, refunds, exceptions, partial order changes, and
what customers and agents do (reports, requests, assignments, escalations, notes, hand links).
Event ids are unique within a history, so duplicates are made by the tests themselves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from wismo.events import Event, event_from_dict
from wismo.vocab import Reason, TrackingStatus

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ORDER_ID = "ORD-1"

_WALK = [
    TrackingStatus.INFO_RECEIVED,
    TrackingStatus.IN_TRANSIT,
    TrackingStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED,
]
_DETOURS = [
    (TrackingStatus.EXCEPTION, Reason.WEATHER_DELAY),
    (TrackingStatus.EXCEPTION, Reason.CUSTOMS_HOLD),
    (TrackingStatus.ATTEMPT_FAIL, Reason.CONSIGNEE_NOT_AVAILABLE),
    (TrackingStatus.AVAILABLE_FOR_PICKUP, None),
    (TrackingStatus.RETURNING_TO_SENDER, Reason.CONSIGNEE_REFUSED),
    (TrackingStatus.UNKNOWN, None),
]


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self, source: str) -> str:
        self.n += 1
        return f"{source}:e{self.n}"


def _at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


def _envelope(
    ids: _Ids, source: str, kind: str, minutes: int, payload: dict[str, Any], **keys: Any
) -> dict[str, Any]:
    return {
        "event_id": ids.next(source),
        "source": source,
        "kind": kind,
        "occurred_at": _at(minutes),
        "payload": payload,
        **keys,
    }


minutes = st.integers(min_value=0, max_value=60 * 24 * 10)


@st.composite
def checkpoints(
    draw: st.DrawFn, ids: _Ids, tracking_number: str, start: int, linked: bool
) -> list[dict[str, Any]]:
    """A forward walk along the milestones, with detours and the odd late regression."""
    steps = draw(st.integers(min_value=0, max_value=len(_WALK)))
    events = []
    at = start
    for index in range(steps):
        at += draw(st.integers(min_value=0, max_value=600))
        status, reason = _WALK[index], None
        if draw(st.integers(0, 5)) == 0:
            status, reason = draw(st.sampled_from(_DETOURS))
        payload: dict[str, Any] = {"status": status.value, "raw_code": f"C{index}"}
        if reason is not None:
            payload["reason"] = reason.value
        if draw(st.booleans()):
            payload["location"] = {"city": "Leeds", "country": "GB"}
        if draw(st.integers(0, 4)) == 0:
            payload["estimated_delivery"] = (date(2026, 3, 5) + timedelta(days=index)).isoformat()
        if status is TrackingStatus.DELIVERED and draw(st.booleans()):
            payload["signed_by"] = draw(st.sampled_from(["J. Doe", "Front desk", "NEIGHBOUR"]))
        if status is TrackingStatus.DELIVERED and draw(st.booleans()):
            payload["proof_of_delivery_url"] = f"https://pod.example.com/{tracking_number}/{index}"
        keys: dict[str, Any] = {"tracking_number": tracking_number}
        if linked:
            keys["order_id"] = ORDER_ID
        events.append(_envelope(ids, "carrier", "tracking.checkpoint", at, payload, **keys))
    if steps and draw(st.booleans()):
        # a late scan that claims less progress than what was already reached
        late = {"status": TrackingStatus.IN_TRANSIT.value, "raw_code": "LATE"}
        events.append(
            _envelope(
                ids,
                "carrier",
                "tracking.checkpoint",
                at + draw(st.integers(0, 300)),
                late,
                tracking_number=tracking_number,
            )
        )
    return events


@st.composite
def order_histories(draw: st.DrawFn) -> list[Event]:
    """The distinct events of one order, in generation (not canonical) order."""
    ids = _Ids()
    raw: list[dict[str, Any]] = []
    line_count = draw(st.integers(1, 3))
    lines = [
        {"line_id": f"L{i}", "sku": f"SKU{i}", "quantity": draw(st.integers(1, 3))}
        for i in range(line_count)
    ]
    promised = date(2026, 3, 4) + timedelta(days=draw(st.integers(0, 6)))
    raw.append(
        _envelope(
            ids,
            "oms",
            "order.placed",
            0,
            {
                "order_number": "1001",
                "customer_email": "Pat@Example.com",
                "currency": "EUR",
                "total_amount": "120.00",
                "lines": lines,
                "delivery_groups": [
                    {
                        "group_id": "G1",
                        "address_masked": "J. D•••, 12•• Main St, 10115 Berlin, DE",
                        "promised_delivery_date": promised.isoformat(),
                        "line_ids": [line["line_id"] for line in lines],
                    }
                ],
            },
            order_id=ORDER_ID,
        )
    )
    if draw(st.booleans()):
        # a partial change: says nothing about lines or groups, so it must erase nothing
        raw.append(
            _envelope(
                ids, "oms", "order.changed", draw(minutes), {"channel": "b2c"}, order_id=ORDER_ID
            )
        )
    if draw(st.integers(0, 5)) == 0:
        raw.append(
            _envelope(
                ids,
                "oms",
                "order.cancelled",
                draw(minutes),
                {"lines": [{"line_id": "L0", "quantity": 1}]},
                order_id=ORDER_ID,
            )
        )
    shipment_count = draw(st.integers(0, 2))
    for s in range(shipment_count):
        fo = f"FO{s}"
        shipped_at = draw(st.integers(30, 60 * 24))
        raw.append(
            _envelope(
                ids,
                "wms",
                "fulfilment.created",
                draw(st.integers(1, 29)),
                {"fulfilment_order_id": fo, "delivery_group_id": "G1"},
                order_id=ORDER_ID,
            )
        )
        raw.append(
            _envelope(
                ids,
                "wms",
                "fulfilment.packed",
                shipped_at - 10,
                {"fulfilment_order_id": fo},
                order_id=ORDER_ID,
            )
        )
        packages = [f"1ZTEST{s}{p}0000" for p in range(draw(st.integers(1, 2)))]
        shipped: dict[str, Any] = {
            "shipment_id": f"SH{s}",
            "fulfilment_order_id": fo,
            "carrier": "ups",
            "tracking_number": packages[0],
            "packages": [{"tracking_number": n} for n in packages],
            "lines": [
                {"line_id": line["line_id"], "quantity": line["quantity"]}
                for line in lines[s::shipment_count]
            ],
        }
        if draw(st.booleans()):
            shipped["carrier_edd"] = promised.isoformat()
        raw.append(
            _envelope(ids, "wms", "fulfilment.shipped", shipped_at, shipped, order_id=ORDER_ID)
        )
        if draw(st.booleans()):
            # the same shipment reported again with less detail (partial payload)
            raw.append(
                _envelope(
                    ids,
                    "oms",
                    "fulfilment.shipped",
                    shipped_at + 5,
                    {"shipment_id": f"SH{s}"},
                    order_id=ORDER_ID,
                )
            )
        for number in packages:
            # some scans arrive before anyone linked them to the order (order_id unknown)
            raw.extend(draw(checkpoints(ids, number, shipped_at - 20, linked=draw(st.booleans()))))
        if draw(st.booleans()):
            raw.append(
                _envelope(
                    ids,
                    "carrier",
                    "edd.revised",
                    shipped_at + 700,
                    {"estimated_delivery": (promised + timedelta(days=1)).isoformat()},
                    tracking_number=packages[0],
                    order_id=ORDER_ID,
                )
            )
    if draw(st.booleans()):
        # a scan for a parcel this order never names: an orphan, kept
        raw.extend(draw(checkpoints(ids, "1ZSTRAY00000", 100, linked=True)))
    if draw(st.booleans()):
        raw.append(
            _envelope(
                ids,
                "psp",
                "payment.authorized",
                1,
                {"payment_id": "P1", "amount": "120.00", "currency": "EUR"},
                order_id=ORDER_ID,
            )
        )
        kind = draw(st.sampled_from(["payment.captured", "payment.failed"]))
        raw.append(
            _envelope(
                ids,
                "psp",
                kind,
                draw(st.integers(2, 100)),
                {"payment_id": "P1", "amount": "120.00"},
                order_id=ORDER_ID,
            )
        )
    if shipment_count and draw(st.booleans()):
        start = 60 * 24 * 12
        for offset, kind in enumerate(
            ["return.authorized", "return.in_transit", "return.received"][: draw(st.integers(1, 3))]
        ):
            raw.append(
                _envelope(
                    ids,
                    "oms",
                    kind,
                    start + draw(st.integers(0, 500)) + offset,
                    {"return_id": "R1", "tracking_number": "1ZRETURN0000"},
                    order_id=ORDER_ID,
                )
            )
        if draw(st.booleans()):
            raw.append(
                _envelope(
                    ids,
                    "oms",
                    "refund.issued",
                    start + 900,
                    {"refund_id": "RF1", "amount": "60.00", "return_id": "R1"},
                    order_id=ORDER_ID,
                )
            )
    opened_at: dict[str, int] = {}
    if draw(st.booleans()):
        opened = opened_at["exc:1"] = draw(minutes)
        raw.append(
            _envelope(
                ids,
                "wismo",
                "exception.opened",
                opened,
                {
                    "exception_id": "exc:1",
                    "type": "stalled",
                    "severity": "medium",
                    "owner": "carrier",
                    "message": "No scan for 48 hours",
                },
                order_id=ORDER_ID,
            )
        )
        for kind in draw(
            st.lists(st.sampled_from(["exception.acknowledged", "exception.resolved"]), max_size=2)
        ):
            raw.append(
                _envelope(
                    ids,
                    "wismo",
                    kind,
                    opened + draw(st.integers(0, 600)),
                    {"exception_id": "exc:1", "by": "agent-7", **_maybe_note(draw)},
                    order_id=ORDER_ID,
                )
            )
    raw.extend(draw(self_service(ids, shipment_count, opened_at)))
    return [event_from_dict(item) for item in raw]


def _maybe_note(draw: st.DrawFn) -> dict[str, str]:
    return (
        {"note": draw(st.sampled_from(["called the depot", "customer informed"]))}
        if draw(st.booleans())
        else {}
    )


#: the customer report the self-service events make and act on
REPORT_ID = "cr_00112233aabbccdd"
_AGENTS = ["agent-7", "agent-9", "lead-1"]


def _action(ids: _Ids, source: str, kind: str, at: int, payload: dict[str, Any]) -> dict[str, Any]:
    return _envelope(ids, source, kind, at, payload, order_id=ORDER_ID)


@st.composite
def self_service(
    draw: st.DrawFn, ids: _Ids, shipment_count: int, opened_at: dict[str, int]
) -> list[dict[str, Any]]:
    """What customers and agents do: a report, a return and a cancel request asked on /track,
    assignments, escalations, a service-desk case, notes, messages and a hand-linked parcel.

    Agents act on exceptions the order has (``opened_at``: id → minute), after they opened."""
    raw: list[dict[str, Any]] = []
    if draw(st.booleans()):
        opened_at = {**opened_at, REPORT_ID: draw(minutes)}
        report: dict[str, Any] = {
            "exception_id": REPORT_ID,
            "problem": draw(st.sampled_from(["not_received", "damaged", "missing_items"])),
            "text": "The box was empty",
        }
        if shipment_count:
            report["subject"] = "SH0"
        if draw(st.booleans()):
            report["lines"] = [{"line_id": "L0", "quantity": 1}]
        if draw(st.booleans()):
            report["attachment"] = {
                "ref": "0123456789abcdef0123456789abcdef.jpg",
                "content_type": "image/jpeg",
                "size_bytes": 2048,
                "sha256": "ab" * 32,
            }
        raw.append(_action(ids, "customer", "problem.reported", opened_at[REPORT_ID], report))
    if opened_at:
        raw.extend(draw(_exception_work(ids, opened_at)))
    for index in range(draw(st.integers(0, 3))):
        note: dict[str, Any] = {
            "note_id": f"n_{index:016x}",
            "text": f"note {index}",
            "by": draw(st.sampled_from(_AGENTS)),
        }
        at = draw(minutes)
        if draw(st.booleans()) and opened_at:
            note["exception_id"] = draw(st.sampled_from(sorted(opened_at)))
            at += opened_at[note["exception_id"]]
        raw.append(_action(ids, "agent", "note.added", at, note))
    for index in range(draw(st.integers(0, 2))):
        message = {"message_id": f"m_{index:016x}", "template": "delay_apology", "by": "agent-7"}
        raw.append(_action(ids, "agent", "customer.messaged", draw(minutes), message))
    raw.extend(draw(_cancel_request(ids)))
    raw.extend(draw(_return_request(ids)))
    if draw(st.booleans()):
        number = draw(st.sampled_from(["1ZSTRAY00000", "1ZTEST00000"]))
        link: dict[str, Any] = {"tracking_number": number, "by": draw(st.sampled_from(_AGENTS))}
        if draw(st.booleans()):
            link["carrier"] = "ups"
        raw.append(_action(ids, "agent", "shipment.linked", draw(minutes), link))
    return raw


@st.composite
def _exception_work(draw: st.DrawFn, ids: _Ids, opened_at: dict[str, int]) -> list[dict[str, Any]]:
    """Assignments, escalations and a service-desk case, each after its exception opened."""
    raw: list[dict[str, Any]] = []
    targets = sorted(opened_at)
    after = st.integers(0, 60 * 24 * 3)
    for _ in range(draw(st.integers(0, 3))):
        assignee = draw(st.sampled_from([None, *_AGENTS]))
        target = draw(st.sampled_from(targets))
        payload: dict[str, Any] = {"exception_id": target, "by": draw(st.sampled_from(_AGENTS))}
        if assignee is not None:
            payload["assignee"] = assignee
        at = opened_at[target] + draw(after)
        raw.append(_action(ids, "agent", "exception.assigned", at, payload))
    for index in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(targets))
        escalation: dict[str, Any] = {
            "exception_id": target,
            "reason": f"no answer from the carrier ({index})",
            "by": draw(st.sampled_from(_AGENTS)),
        }
        if draw(st.booleans()):
            escalation["to"] = "lead-1"
        at = opened_at[target] + draw(after)
        raw.append(_action(ids, "agent", "exception.escalated", at, escalation))
    if draw(st.integers(0, 3)) == 0:
        target = draw(st.sampled_from(targets))
        case = {
            "exception_id": target,
            "system": "salesforce",
            "case_id": "5003000000D8cuI",
            "case_number": "00001026",
            "url": "https://example.my.salesforce.com/5003000000D8cuI",
        }
        at = opened_at[target] + draw(after)
        raw.append(_action(ids, "servicecloud", "exception.case_opened", at, case))
    return raw


@st.composite
def _cancel_request(draw: st.DrawFn, ids: _Ids) -> list[dict[str, Any]]:
    if not draw(st.booleans()):
        return []
    asked = draw(minutes)
    request = {"request_id": "cq_0011223344556677", "lines": [{"line_id": "L0", "quantity": 1}]}
    raw = [_action(ids, "customer", "cancel.requested", asked, {**request, "reason": "too slow"})]
    for kind in draw(
        st.lists(st.sampled_from(["cancel.confirmed", "cancel.rejected"]), max_size=2)
    ):
        answer = {"request_id": request["request_id"], "note": "already packed"}
        raw.append(_action(ids, "oms", kind, asked + draw(st.integers(0, 600)), answer))
    return raw


@st.composite
def _return_request(draw: st.DrawFn, ids: _Ids) -> list[dict[str, Any]]:
    if not draw(st.booleans()):
        return []
    asked = draw(minutes)
    line = {"line_id": "L0", "quantity": 1, "reason": draw(st.sampled_from(["too big", "broken"]))}
    raw = [
        _action(ids, "customer", "return.requested", asked, {"return_id": "RR1", "lines": [line]})
    ]
    later = ["return.authorized", "return.rejected", "return.in_transit"]
    for kind in later[: draw(st.integers(0, 3))]:
        payload = {"return_id": "RR1", "tracking_number": "1ZRETURN0001"}
        raw.append(_action(ids, "oms", kind, asked + draw(st.integers(0, 900)), payload))
    return raw
