"""The normaliser's brand stamp (wismo.brands.stamp_brand): pure."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.api.conftest import EXAMPLE_ORDER
from wismo.brands import stamp_brand
from wismo.events import Event, EventKind, parse_event
from wismo.settings import BrandSettings, Settings

SETTINGS = Settings(
    brands={
        "northwind": BrandSettings(
            name="Northwind", channels=("web", "App"), webhook_secrets={"oms": (SecretStr("x"),)}
        ),
        "kaffeeberg": BrandSettings(name="Kaffeehaus Berg", channels=("kaffeeberg-web",)),
    }
)
EVENTS = [parse_event(line) for line in EXAMPLE_ORDER.read_bytes().splitlines()]
BRANDS = st.sampled_from([None, "northwind", "kaffeeberg", "elsewhere"])
CHANNELS = st.sampled_from([None, "web", "APP", "kaffeeberg-web", "store"])


def with_payload(event: Event, **payload: object) -> Event:
    data = orjson.loads(event.model_dump_json())
    data["payload"].update(payload)
    return parse_event(orjson.dumps(data))


def order_event(kind: EventKind) -> Event:
    event = next(e for e in EVENTS if e.kind is EventKind.ORDER_PLACED)
    if kind is EventKind.ORDER_PLACED:
        return event
    data = orjson.loads(event.model_dump_json())
    data.update(kind=kind.value, event_id="shopify:order-1001-change")
    return parse_event(orjson.dumps(data))


@given(
    kind=st.sampled_from([EventKind.ORDER_PLACED, EventKind.ORDER_CHANGED]),
    stated=st.sampled_from([None, "northwind", "kaffeeberg"]),
    signed_by=BRANDS,
    channel=CHANNELS,
)
def test_order_events_get_stated_then_signing_then_channel_brand(
    kind: EventKind, stated: str | None, signed_by: str | None, channel: str | None
) -> None:
    event = with_payload(order_event(kind), brand=stated, sales_channel=channel)
    out = stamp_brand(SETTINGS, event, signed_by)
    by_channel = {"web": "northwind", "APP": "northwind", "kaffeeberg-web": "kaffeeberg"}
    expected = stated or signed_by or by_channel.get(channel or "")
    assert out.payload.brand == expected  # type: ignore[union-attr]
    assert out.model_copy(update={"payload": event.payload}) == event  # nothing else changes


@given(signed_by=BRANDS)
def test_other_events_are_untouched(signed_by: str | None) -> None:
    others = [e for e in EVENTS if e.kind not in (EventKind.ORDER_PLACED, EventKind.ORDER_CHANGED)]
    assert others
    for event in others:
        assert stamp_brand(SETTINGS, event, signed_by) is event


def test_without_brands_configured_a_channel_gives_no_brand() -> None:
    event = with_payload(order_event(EventKind.ORDER_PLACED), sales_channel="web")
    assert stamp_brand(Settings(), event).payload.brand is None  # type: ignore[union-attr]


def test_stamping_is_stable_under_replay() -> None:
    event = with_payload(order_event(EventKind.ORDER_PLACED), sales_channel="store")
    once = stamp_brand(SETTINGS, event, "kaffeeberg")
    assert stamp_brand(SETTINGS, once, "kaffeeberg") == once
    assert once.received_at == event.received_at == datetime(2026, 3, 2, 9, 14, 6, tzinfo=UTC)
