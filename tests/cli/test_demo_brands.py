"""``wismo up``'s demo brands and the simulated orders that belong to them."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from bench.orders import LIVELY, story
from cli.commands.up import _with_demo_brands
from wismo.brands import brand_of_channel
from wismo.settings import BrandSettings, Settings

BRANDED = replace(LIVELY, branded=True, changed=0.5)


def _placed(index: int) -> dict[str, Any]:
    documents = story(index, seed=3, mix=BRANDED).documents()
    payload: dict[str, Any] = next(d for d in documents if d["kind"] == "order.placed")["payload"]
    return payload


def test_demo_brands_only_when_none_are_configured() -> None:
    settings = _with_demo_brands(Settings())
    assert settings.brands["northwind"].name == "Northwind Outfitters"
    assert settings.brands["kaffeeberg"].locale == "de"
    assert settings.brands["kaffeeberg"].logo_url == "/static/brands/kaffeeberg.svg"
    own = Settings(brands={"acme": BrandSettings(name="Acme")})
    assert list(_with_demo_brands(own).brands) == ["acme"]


def test_simulated_orders_split_between_the_brands_in_several_languages() -> None:
    settings = _with_demo_brands(Settings())
    placed = [_placed(index) for index in range(200)]
    brands = Counter(str(p["brand"]) for p in placed)
    assert set(brands) == {"northwind", "kaffeeberg"}
    assert min(brands.values()) > 60
    for payload in placed:  # the channel says the same brand as the payload
        assert brand_of_channel(settings, str(payload["sales_channel"])) == payload["brand"]
    languages = {(str(p["brand"]), str(p["locale"])[:2]) for p in placed}
    assert {"en", "fr", "es", "nl"} <= {lang for brand, lang in languages if brand == "northwind"}
    assert {"de", "fr", "nl"} <= {lang for brand, lang in languages if brand == "kaffeeberg"}
    assert placed == [_placed(index) for index in range(200)]  # the same for the same seed


def test_changes_keep_the_brand_and_unbranded_orders_stay_as_they_were() -> None:
    for index in range(60):
        branded = story(index, seed=3, mix=BRANDED).documents()
        for document in branded:
            if document["kind"] == "order.changed":
                assert document["payload"]["brand"] == _placed(index)["brand"]
        plain = list(story(index, seed=3, mix=replace(BRANDED, branded=False)).documents())
        assert all("brand" not in d["payload"] for d in plain if d["kind"].startswith("order."))
