"""Erasure by order id, e-mail and phone: the values are gone from every Redis key and every
ClickHouse table, the other orders are untouched, the SLA KPIs still compute, and an audit row
records who erased what kind of subject without the value."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from api.photos import CleanPhoto, PhotoStore
from projections.clickhouse_store import ClickHouse, ClickHouseStore, ClickHouseWriter
from projections.erasure import Erasure, Subject
from projections.notify.contacts import ContactStore
from projections.notify.ledger import Ledger, SimplePlan
from projections.notify.model import Contacts, Message, MessageState, NotifyChannel
from projections.notify.subscriptions import PreferenceStore
from projections.redis_store import RedisTimelineStore
from projections.sla import SlaQuery, sla_report
from streams.notify.records import record_for
from tests.projections.conftest import REDIS_URL
from tests.projections.synthetic import order_history
from wismo.events import Event, event_from_dict, parse_event
from wismo.ids import email_hash

ORDERS = 8
PHONE = "+44 7700 900123"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
KPIS = SlaQuery(date(2026, 1, 1), date(2026, 12, 31), ("carrier",))


def _note(order_id: str, note: str) -> Event:
    return parse_event(
        orjson.dumps(
            {
                "event_id": f"oms:{order_id}:rma-note",
                "source": "oms",
                "order_id": order_id,
                "occurred_at": "2026-03-20T10:00:00Z",
                "schema_version": 1,
                "kind": "return.authorized",
                "payload": {"return_id": f"R-{order_id}", "note": note},
            }
        )
    )


def _events() -> list[Event]:
    rng = random.Random(5)
    events = [e for index in range(ORDERS) for e in order_history(index, rng)]
    return [*events, _note("ORD-1", f"customer asks to be called on {PHONE} first")]


async def _redis_text(client: aioredis.Redis, prefix: str) -> str:
    """Every key name and value under the prefix, as one text."""
    parts = []
    async for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
        key = raw.decode()
        kind = (await client.type(key)).decode()
        value: Any = {
            "string": client.get,
            "hash": client.hgetall,
            "set": client.smembers,
            "zset": lambda k: client.zrange(k, 0, -1),
        }[kind](key)
        parts.append(f"{key} {await value!r}")
    return "\n".join(parts).casefold()


async def _clickhouse_text(ch: ClickHouse) -> str:
    tables = [t for (t,) in await ch.rows("SHOW TABLES FROM {db}")]
    parts = []
    for table in tables:
        rows = await ch.rows(f"SELECT * FROM {{db}}.{table}")
        parts.append(repr(rows))
    return "\n".join(parts).casefold()


async def _stores(
    redis_client: aioredis.Redis, redis_prefix: str, clickhouse: ClickHouse
) -> tuple[RedisTimelineStore, Erasure]:
    events = _events()
    await ClickHouseStore(clickhouse).apply(events)
    store = RedisTimelineStore(redis_client, redis_prefix, url=REDIS_URL)
    await store.apply(events)
    await _notified(redis_client, redis_prefix, clickhouse)
    return store, Erasure(clickhouse, store)


async def _notified(client: aioredis.Redis, prefix: str, clickhouse: ClickHouse) -> None:
    """What the notify role and the status page keep per order: contacts, the customer's own
    subscription, a sent e-mail in the ledger and its record in ClickHouse."""
    ledger, warehouse = Ledger(client, prefix), ClickHouseWriter(clickhouse)
    for index in range(ORDERS):
        order_id, email = f"ORD-{index}", f"customer{index}@example.com"
        await ContactStore(client, prefix).record(order_id, Contacts(email=email), NOW)
        await PreferenceStore(client, prefix).set(order_id, NotifyChannel.EMAIL, email, True)
        sent = Message(
            key=f"{order_id}|shipped:S1|email|{email}",
            order_id=order_id,
            channel=NotifyChannel.EMAIL,
            recipient=email,
            kind="shipped",
            subject="S1",
            payload={},
            triggered_at=NOW,
            due_at=NOW,
        )
        await ledger.commit_plan(order_id, SimplePlan([sent], handled={"shipped:S1": "1"}), NOW)
        record = record_for(sent, MessageState.SENT, NOW, attempts=1)
        await warehouse.add_notifications([record])
    await warehouse.flush()


def _kpis(ch: ClickHouse, *sections: str) -> dict[str, Any]:
    return sla_report(ch.client, ch.database, KPIS, sections).as_dict()


@pytest.mark.parametrize(
    ("subject", "erased", "order"),
    [
        (Subject("email", "Customer0@Example.com"), ["customer0@example.com"], "ORD-0"),
        (Subject("phone", PHONE), [PHONE], "ORD-1"),
        (Subject("order", "ORD-2"), ["customer2@example.com"], "ORD-2"),
    ],
    ids=["email", "phone", "order"],
)
async def test_erased_values_are_gone_from_both_stores(
    redis_client: aioredis.Redis,
    redis_prefix: str,
    clickhouse: ClickHouse,
    subject: Subject,
    erased: list[str],
    order: str,
) -> None:
    store, erasure = await _stores(redis_client, redis_prefix, clickhouse)
    digest = email_hash(f"customer{order[4:]}@example.com")
    wanted = [*(v.casefold() for v in erased), digest]
    before_redis = await _redis_text(redis_client, redis_prefix)
    before_ch = await _clickhouse_text(clickhouse)
    for value in wanted:
        assert value in before_redis
        assert value in before_ch
    kpis = await clickhouse.run(_kpis, clickhouse, "delivery", "exceptions", "returns")

    report = await erasure.run(subject, "agent-7", NOW)

    assert report.orders == [order]
    assert report.events > 0
    assert report.redis_keys > 0
    after_redis = await _redis_text(redis_client, redis_prefix)
    after_ch = await _clickhouse_text(clickhouse)
    for value in wanted:
        assert value not in after_redis
        assert value not in after_ch
    assert "customer5@example.com" in after_ch  # other orders untouched
    assert email_hash("customer5@example.com") in after_redis
    timeline = orjson.loads(await store.timeline(order) or b"")
    assert timeline["order_number"] == str(100000 + int(order[4:]))
    assert timeline["customer_email_sha256"] is None
    assert await clickhouse.run(_kpis, clickhouse, "delivery", "exceptions", "returns") == kpis
    assert (await clickhouse.run(_kpis, clickhouse, "dwell"))["dwell"]

    (audit,) = await clickhouse.rows(
        "SELECT requested_by, subject, orders, events, redis_keys FROM {db}.erasures"
    )
    assert audit == ("agent-7", subject.kind, [order], report.events, report.redis_keys)
    # the notification side: nothing names the customer; what was handled stays
    assert await ContactStore(redis_client, redis_prefix).get(order) == Contacts()
    assert await Ledger(redis_client, redis_prefix).for_order(order) == []
    assert await Ledger(redis_client, redis_prefix).handled(order) == {"shipped:S1": "1"}


async def test_erasing_twice_changes_nothing_more(
    redis_client: aioredis.Redis, redis_prefix: str, clickhouse: ClickHouse
) -> None:
    store, erasure = await _stores(redis_client, redis_prefix, clickhouse)
    await erasure.run(Subject("order", "ORD-3"), "agent-7", NOW)
    timeline = await store.timeline("ORD-3")
    facts = await clickhouse.rows(
        "SELECT count() FROM {db}.shipments FINAL WHERE order_id = 'ORD-3'"
    )
    assert facts == [(1,)]
    again = await erasure.run(Subject("order", "ORD-3"), "agent-7", NOW)
    assert again.orders == ["ORD-3"]
    assert await store.timeline("ORD-3") == timeline
    assert (
        await clickhouse.rows("SELECT count() FROM {db}.shipments FINAL WHERE order_id = 'ORD-3'")
        == facts
    )
    nobody = await erasure.run(Subject("email", "nobody@example.com"), "agent-7", NOW)
    assert nobody.orders == []
    unknown = await erasure.run(Subject("order", "ORD-404"), "agent-7", NOW)
    assert unknown.orders == []
    assert await store.timeline("ORD-404") is None
    assert await clickhouse.rows(
        "SELECT count() FROM {db}.timelines WHERE order_id = 'ORD-404'"
    ) == [(0,)]


async def test_an_orders_photos_and_what_its_customer_wrote_go(
    redis_client: aioredis.Redis, redis_prefix: str, clickhouse: ClickHouse
) -> None:
    store, erasure = await _stores(redis_client, redis_prefix, clickhouse)
    photos = PhotoStore(redis_client, redis_prefix, retention_days=30)
    clean = CleanPhoto(b"JPEG bytes", "image/jpeg", "jpg", "ab" * 32)
    attachment = await photos.keep("ORD-4", clean)
    unsent = await photos.keep("ORD-4", CleanPhoto(b"other", "image/jpeg", "jpg", "cd" * 32))
    words = "the parcel was left with ZYXWVQ next door"
    report = {
        "event_id": "customer:report-4",
        "source": "customer",
        "kind": "problem.reported",
        "order_id": "ORD-4",
        "occurred_at": "2026-03-21T10:00:00Z",
        "payload": {
            "exception_id": "cr_0123456789abcdef",
            "problem": "not_received",
            "text": words,
            "attachment": attachment,
        },
    }
    await store.apply([event_from_dict(report)])
    assert words.casefold() in await _redis_text(redis_client, redis_prefix)

    await erasure.run(Subject("order", "ORD-4"), "agent-7", NOW)

    assert await photos.get(attachment["ref"]) is None
    assert await photos.get(unsent["ref"]) is None  # uploaded, never sent: it goes too
    assert not await redis_client.exists(photos.order_key("ORD-4"))
    assert words.casefold() not in await _redis_text(redis_client, redis_prefix)
    timeline = orjson.loads(await store.timeline("ORD-4") or b"")
    (reported,) = [e for e in timeline["exceptions"] if e["type"] == "customer_reported"]
    assert (reported["problem"], reported["attachment"]) == ("not_received", None)


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("5551234567", ["5551234567"]),  # digits only: one form, still a phone number
        ("+44 7700 900123", ["+44 7700 900123", "447700900123"]),
        ("(555) 123-4567", ["(555) 123-4567", "5551234567"]),
    ],
)
def test_a_phone_number_is_a_subject_however_it_is_written(typed: str, searched: list[str]) -> None:
    assert Subject.of("phone", typed).values == searched


@pytest.mark.parametrize("typed", ["12-34", "", "phone", "+1 (55)"])
def test_a_phone_number_needs_enough_digits(typed: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        Subject.of("phone", typed)
