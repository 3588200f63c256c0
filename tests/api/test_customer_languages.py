"""The status page's reads in the reader's language and scoped to the page's brand: ``?lang=``,
the order's locale, Accept-Language, the brand's locale; the cache per language; brand look-ups
that cross answer like unknown orders; ``/v1/brands/{brand}`` and ``/v1/i18n/{lang}``."""

from __future__ import annotations

from typing import Any

import pytest

import api.ws
from api.customer_view import customer_view
from api.keys import ORDER_CACHE
from api.page_texts import LABELS
from projections.redis_store import RedisTimelineStore
from tests.api.conftest import Client, example_order, make_settings
from wismo.events import Event
from wismo.i18n import translations
from wismo.settings import BrandSettings, Settings

ORDER = "ORD-1001"
LOOKUP = {"order_number": "1001", "email": "pat.doe@example.com"}
BRANDS = {
    "kaffeeberg": BrandSettings(
        name="Kaffeehaus Berg", locale="de", logo_url="/static/brands/kaffeeberg.svg"
    ),
    "northwind": BrandSettings(name="Northwind Outfitters", locale="en", return_window_days=14),
}


@pytest.fixture
async def settings(broker: str, prefix: str) -> Settings:
    return make_settings(broker, prefix).model_copy(update={"brands": BRANDS})


def order_of(brand: str | None, locale: str | None = None) -> list[Event]:
    events = example_order()
    placed = events[0]
    payload = placed.payload.model_copy(update={"brand": brand, "locale": locale})
    return [placed.model_copy(update={"payload": payload}), *events[1:]]


async def read(client: Client, path: str = f"/v1/orders/{ORDER}", **headers: str) -> Any:
    found = await client.post("/v1/lookup", json=LOOKUP)
    assert found.status == 200, await found.text()
    token = (await found.json())["token"]
    response = await client.get(path, headers={"Authorization": f"Bearer {token}", **headers})
    assert response.status == 200, await response.text()
    return response.headers["ETag"], await response.json()


def german(text: str) -> str:
    translated = translations("page", "de").gettext(text)
    assert translated != text
    return translated


async def test_explicit_then_order_locale_then_accept_language_then_brand(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(order_of("kaffeeberg", "fr"))
    _, view = await read(client, f"/v1/orders/{ORDER}?lang=nl", **{"Accept-Language": "es"})
    assert view["lang"] == "nl"
    _, view = await read(client, **{"Accept-Language": "es"})
    assert view["lang"] == "fr"  # the order's locale before the browser's
    assert view["brand"]["name"] == "Kaffeehaus Berg"
    assert "secret" not in str(view["brand"])
    assert "channels" not in view["brand"]


async def test_accept_language_then_the_brands_locale(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(order_of("kaffeeberg"))
    _, view = await read(client, **{"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert view["lang"] == "es"
    _, view = await read(client, **{"Accept-Language": "ja"})
    assert view["lang"] == "de"  # nothing the page speaks: the brand's language
    assert view["status_text"] == german("Delivered")
    assert view["milestones"][0]["label"] == german("Ordered")
    _, unknown = await read(client, f"/v1/orders/{ORDER}?lang=xx")
    assert unknown["lang"] == "de"


async def test_each_language_has_its_own_answer_and_etag(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(order_of("northwind"))
    cache = client.app[ORDER_CACHE]
    english_tag, english = await read(client, f"/v1/orders/{ORDER}?lang=en")
    german_tag, deutsch = await read(client, f"/v1/orders/{ORDER}?lang=de")
    hits = cache.hits
    again_tag, again = await read(client, f"/v1/orders/{ORDER}?lang=en")
    assert cache.hits == hits + 1  # the English answer was kept beside the German one
    assert english_tag != german_tag
    assert again_tag == english_tag
    assert (english["lang"], deutsch["lang"], again["lang"]) == ("en", "de", "en")
    assert english["status_text"] == "Delivered"
    assert deutsch["status_text"] == german("Delivered")
    assert deutsch["actions"]["return_window_days"] == 14  # the brand's window


async def test_a_brands_page_finds_none_of_another_brands_orders(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(order_of("northwind"))
    own = await client.post("/v1/lookup", json={**LOOKUP, "brand": "northwind"})
    assert own.status == 200
    unknown = await client.post("/v1/lookup", json={**LOOKUP, "order_number": "999999"})
    for brand in ("kaffeeberg", "nobody"):
        crossing = await client.post("/v1/lookup", json={**LOOKUP, "brand": brand})
        assert crossing.status == 404
        assert await crossing.json() == await unknown.json()


async def test_an_unbranded_order_is_not_found_from_a_brands_page(
    client: Client, store: RedisTimelineStore
) -> None:
    await store.apply(order_of(None))
    assert (await client.post("/v1/lookup", json={**LOOKUP, "brand": "northwind"})).status == 404
    assert (await client.post("/v1/lookup", json=LOOKUP)).status == 200


async def test_public_brand_config(client: Client) -> None:
    response = await client.get("/v1/brands/kaffeeberg")
    assert response.status == 200
    body = await response.json()
    assert body["name"] == "Kaffeehaus Berg"
    assert body["logo_url"] == "/static/brands/kaffeeberg.svg"
    assert body["locale"] == "de"
    assert not {"webhook_secrets", "channels", "sender"} & set(body)
    etag = response.headers["ETag"]
    cached = await client.get("/v1/brands/kaffeeberg", headers={"If-None-Match": etag})
    assert cached.status == 304
    assert (await client.get("/v1/brands/unknown")).status == 404


@pytest.mark.parametrize("lang", ["de", "fr", "es", "nl"])
async def test_page_labels_in_each_language(client: Client, lang: str) -> None:
    response = await client.get(f"/v1/i18n/{lang}")
    assert response.status == 200
    body = await response.json()
    assert body["lang"] == lang
    assert set(body["labels"]) == set(LABELS)
    untranslated = [k for k, text in body["labels"].items() if text == LABELS[k]]
    # the same word in some languages: "Status" (German, Dutch), "E-mail" (French, Dutch)
    assert set(untranslated) <= {"status", "channel_email"}
    etag = response.headers["ETag"]
    assert (await client.get(f"/v1/i18n/{lang}", headers={"If-None-Match": etag})).status == 304


async def test_page_labels_of_an_unknown_language(client: Client) -> None:
    english = await (await client.get("/v1/i18n/en")).json()
    assert english["labels"] == LABELS
    for lang in ("xx", "de-AT", "../en"):
        assert (await client.get(f"/v1/i18n/{lang}")).status == 404


async def test_websocket_frames_in_each_subscribers_language(
    client: Client, store: RedisTimelineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = order_of("northwind")
    await store.apply(events[:-1])
    found = await (await client.post("/v1/lookup", json=LOOKUP)).json()
    token = found["token"]
    built: list[str] = []

    def counted(settings: Settings, timeline: Any, lang: str) -> dict[str, Any]:
        built.append(lang)
        return customer_view(settings, timeline, lang)

    monkeypatch.setattr(api.ws, "customer_view", counted)
    path = f"/v1/ws/orders/{ORDER}?token={token}"
    async with (
        client.ws_connect(f"{path}&lang=de") as first,
        client.ws_connect(f"{path}&lang=de") as second,
        client.ws_connect(f"{path}&lang=fr") as third,
        client.ws_connect(path) as plain,
    ):
        sockets = {"de": first, "de2": second, "fr": third, "en": plain}
        for ws in sockets.values():
            assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
            assert (await ws.receive_json(timeout=5))["type"] == "order"
        built.clear()
        await store.apply(events[-1:])
        frames = {name: await ws.receive_json(timeout=5) for name, ws in sockets.items()}
    assert {name: frame["view"]["lang"] for name, frame in frames.items()} == {
        "de": "de",
        "de2": "de",
        "fr": "fr",
        "en": "en",  # the brand's language when the subscriber names none
    }
    assert sorted(built) == ["de", "en", "fr"]  # one view per language, not per subscriber
    english = translations("page", "fr").gettext(frames["en"]["view"]["status_text"])
    assert frames["fr"]["view"]["status_text"] == english
