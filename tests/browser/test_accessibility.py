"""Every page a person uses has no serious or critical accessibility violation (axe-core, WCAG
2.x A/AA and best practices), checked in the state people see it: the status page before and
after a lookup, the agent console, the analytics page and the message outbox, signed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.axe import describe
from tests.browser.conftest import DEMO_EMAIL, DEMO_ORDER, System

pytestmark = pytest.mark.browser

Axe = Callable[[Any], list[dict[str, Any]]]


def _clean(page: Any, axe: Axe) -> None:
    violations = axe(page)
    assert violations == [], f"{page.url}:\n{describe(violations)}"


def test_the_check_finds_a_violation(page: Any, system: System, axe: Axe) -> None:
    page.goto(f"{system.base}/outbox")
    page.evaluate(
        "() => { const i = document.createElement('img'); i.src = '/static/none.png';"
        " document.querySelector('main').append(i); }"
    )
    assert "image-alt" in {v["id"] for v in axe(page)}


def test_the_status_page_before_a_lookup(page: Any, system: System, axe: Axe) -> None:
    page.goto(f"{system.base}/track")
    page.get_by_label("Order number").wait_for()
    _clean(page, axe)


def test_the_status_page_showing_an_order(page: Any, system: System, axe: Axe) -> None:
    page.goto(f"{system.base}/track")
    page.get_by_label("Order number").fill(DEMO_ORDER)
    page.get_by_label("E-mail address or delivery postcode").fill(DEMO_EMAIL)
    page.get_by_role("button", name="Track order").click()
    page.wait_for_selector("#order:not([hidden]) .shipment ol.history li")
    _clean(page, axe)


def test_the_agent_console_signed_in(page: Any, system: System, axe: Axe) -> None:
    page.goto(f"{system.base}/console?token={system.agent_token()}")
    page.wait_for_selector("#queue-table tbody tr")
    _clean(page, axe)
    # an order opened from the queue
    page.locator("#queue-table tbody tr a[href^='#/order/']").first.click()
    page.wait_for_selector("#order:not([hidden]) #order-body > *")
    _clean(page, axe)


def test_the_analytics_page_signed_in(page: Any, system: System, axe: Axe) -> None:
    page.goto(f"{system.base}/analytics")
    page.get_by_label("Agent token").wait_for()
    _clean(page, axe)  # the sign-in form
    page.get_by_label("Agent token").fill(system.agent_token())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#report:not([hidden])")
    page.wait_for_function(
        "() => !document.querySelector('#agent-response .body').textContent.includes('Loading')",
        timeout=30_000,
    )
    _clean(page, axe)


def test_the_outbox_page(page: Any, system: System, axe: Axe) -> None:
    page.goto(f"{system.base}/outbox")
    page.wait_for_selector("#status:has-text('message(s)')")
    _clean(page, axe)
