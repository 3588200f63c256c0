"""The status page of a real order in every language: labels from the page catalog, the order's
words from its view, ``<html lang>``, the switcher, and the order's brand."""

from __future__ import annotations

from typing import Any

import pytest

from api.page_texts import LABELS
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


def open_order(page: Any, system: System, lang: str) -> None:
    page.goto(f"{system.base}/track?lang={lang}&order={DEMO_ORDER}&email={DEMO_EMAIL}")
    page.locator("#order-status").wait_for()


@pytest.mark.parametrize("lang", SHIPPED)
def test_the_status_page_in_each_language(page: Any, system: System, lang: str) -> None:
    open_order(page, system, lang)
    view = view_in(system, lang)
    assert view["lang"] == lang
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_label(label(lang, "language")).input_value() == lang
    summary = page.locator("#summary")
    assert summary.get_by_text(label(lang, "status"), exact=True).count() == 1
    assert page.locator("#order-status").inner_text() == view["status_text"]
    assert page.locator("#another").inner_text() == label(lang, "another_order")
    shipment = page.locator(".shipment").first
    assert shipment.get_by_text(label(lang, "history"), exact=True).count() == 1
    first = view["shipments"][0]
    assert shipment.locator(".pill").inner_text() == first["description"]
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
    page.wait_for_function("document.documentElement.lang === 'de'")
    german = view_in(system, "de")
    page.wait_for_function(
        "text => document.getElementById('order-status').textContent === text",
        arg=german["status_text"],
    )
    # the same order still on the page (no new look-up), its labels in German
    assert page.locator("#order-title").inner_text() == title.replace("Order", "Bestellung")
    assert page.locator("#summary").get_by_text("Status", exact=True).count() == 1
    assert page.evaluate("localStorage.getItem('wismo.lang')") == "de"
    page.goto(f"{system.base}/track")
    page.wait_for_function("document.documentElement.lang === 'de'")
    assert page.get_by_label("Sprache").input_value() == "de"
    assert page.get_by_role("button", name="Bestellung verfolgen").count() == 1
    page.evaluate("localStorage.removeItem('wismo.lang')")
