"""The status page of a real order in every language: labels from the page catalog, the order's
words from its view, ``<html lang>``, the switcher, and the order's brand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from api.page_texts import LABELS
from tests.browser.axe import describe
from tests.browser.conftest import DEMO_EMAIL, DEMO_ORDER, System
from wismo.i18n import SHIPPED, translations

pytestmark = pytest.mark.browser


def label(lang: str, key: str) -> str:
    return translations("page", lang).gettext(LABELS[key])


def view_in(system: System, lang: str) -> dict[str, Any]:
    status, found = system.request(
        "POST", "/v1/lookup", {"order_number": DEMO_ORDER, "email": DEMO_EMAIL}
    )
    assert status == 200, found
    path = f"/v1/orders/{found['order_id']}?lang={lang}"
    status, view = system.request("GET", path, token=found["token"])
    assert status == 200, view
    return dict(view)


def until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s}s"
        time.sleep(0.1)


def open_order(page: Any, system: System, lang: str) -> None:
    page.goto(f"{system.base}/track?lang={lang}&order={DEMO_ORDER}&email={DEMO_EMAIL}")
    page.locator("#order-status").wait_for()


@pytest.mark.parametrize("lang", SHIPPED)
def test_the_status_page_in_each_language(
    page: Any, system: System, lang: str, axe: Callable[[Any], list[dict[str, Any]]]
) -> None:
    open_order(page, system, lang)
    shipment = page.locator(".shipment").first
    views: list[dict[str, Any]] = []

    def shown() -> bool:
        # the demo order moves on while we look: compare with the view read at the same moment
        views.append(view_in(system, lang))
        return (
            page.locator("#order-status").inner_text() == views[-1]["status_text"]
            and shipment.locator(".pill").inner_text() == (views[-1]["shipments"][0]["description"])
        )

    until(shown, "the page showing the order's current view", timeout_s=20.0)
    view = views[-1]
    violations = axe(page)  # accessible in every language, not only in English
    assert not violations, describe(violations)
    assert view["lang"] == lang
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_label(label(lang, "language")).input_value() == lang
    summary = page.locator("#summary")
    assert summary.get_by_text(label(lang, "status"), exact=True).count() == 1
    assert page.locator("#another").inner_text() == label(lang, "another_order")
    assert shipment.get_by_text(label(lang, "history"), exact=True).count() == 1
    if lang != "en":  # the view's words are translated, not English
        english = view_in(system, "en")
        assert view["shipments"][0]["description"] != english["shipments"][0]["description"]
    brand = view["brand"]
    if brand is not None:  # the order's brand: its logo, named, in the header
        logo = page.locator("#brand-logo")
        assert logo.is_visible()
        assert logo.get_attribute("alt") == brand["name"]


def test_the_switcher_rewords_the_order_and_is_remembered(page: Any, system: System) -> None:
    open_order(page, system, "en")
    page.evaluate("localStorage.removeItem('wismo.lang')")
    title = page.locator("#order-title").inner_text()
    page.get_by_label("Language").select_option("de")
    until(lambda: page.locator("html").get_attribute("lang") == "de", "html lang de")
    german = view_in(system, "de")
    status = page.locator("#order-status")
    until(lambda: status.inner_text() == german["status_text"], "the German status")
    # the same order still on the page (no new look-up), its labels in German
    assert page.locator("#order-title").inner_text() == title.replace("Order", "Bestellung")
    assert page.locator("#summary").get_by_text("Status", exact=True).count() == 1
    assert page.evaluate("localStorage.getItem('wismo.lang')") == "de"
    page.goto(f"{system.base}/track")
    until(lambda: page.locator("html").get_attribute("lang") == "de", "the remembered language")
    assert page.get_by_label("Sprache").input_value() == "de"
    assert page.get_by_role("button", name="Bestellung verfolgen").count() == 1
    page.evaluate("localStorage.removeItem('wismo.lang')")


def test_a_brands_page_shows_the_brand_and_only_its_orders(page: Any, system: System) -> None:
    view = view_in(system, "en")
    brand = view["brand"]
    assert brand is not None, "wismo up's demo orders belong to its demo brands"
    status, other = 0, None
    for candidate in ("northwind", "kaffeeberg"):
        if candidate != brand["id"]:
            status, other = system.request("GET", f"/v1/brands/{candidate}")
    assert status == 200, other
    assert other is not None
    # another brand's page: its logo before any look-up, and the demo order is not found there
    page.goto(f"{system.base}/track?brand={other['id']}&lang=en")
    logo = page.locator("#brand-logo")
    logo.wait_for()
    assert logo.get_attribute("alt") == other["name"]
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Order number").fill(DEMO_ORDER)
    page.get_by_label("E-mail address or delivery postcode").fill(DEMO_EMAIL)
    page.get_by_role("button", name="Track order").click()
    page.get_by_text("We could not find an order").wait_for()
    assert page.locator("#order").is_hidden()
    # the order's own brand's page finds it, and shows that brand
    page.goto(f"{system.base}/track?brand={brand['id']}&lang=en")
    page.get_by_label("Order number").fill(DEMO_ORDER)
    page.get_by_label("E-mail address or delivery postcode").fill(DEMO_EMAIL)
    page.get_by_role("button", name="Track order").click()
    page.locator("#order-status").wait_for()
    assert page.locator("#brand-logo").get_attribute("alt") == brand["name"]
