"""The status page shows wismo's estimate beside the carrier's, in the server's own words.

The page and its scripts are the real ones (``api/static``); the API answers are the documents
:func:`projections.customer_order.customer_order` makes of a folded timeline, served through the
browser's request routing, so no system needs to run.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from projections.customer_order import customer_order, encode
from projections.exception_flow import reconcile
from projections.exceptions import detect
from projections.serialize import timeline_to_dict
from tests.projections.predict.test_live import PREDICT, predicted
from tests.projections.test_exceptions import ORDER, THRESHOLDS, Story, hours
from wismo.events import event_to_dict

pytestmark = pytest.mark.browser

STATIC = Path(__file__).parents[2] / "api" / "static"
BASE = "http://wismo.test"


def _serve(page: Any, view: dict[str, Any]) -> None:
    body = encode(view)

    def handle(route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/track":
            route.fulfill(path=str(STATIC / "track" / "index.html"), content_type="text/html")
        elif path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file)[0]
            route.fulfill(path=str(file), content_type=kind or "application/octet-stream")
        elif path == "/v1/lookup":
            route.fulfill(
                json={"order_id": ORDER, "token": "t", "expires_at": "2099-01-01T00:00:00Z"}
            )
        elif path == f"/v1/orders/{ORDER}":
            route.fulfill(body=body, content_type="application/json", headers={"ETag": '"1"'})
        else:
            route.fulfill(status=503, json={"reason": "not in this test"})

    page.route(f"{BASE}/**", handle)


def _look_up(page: Any, view: dict[str, Any]) -> Any:
    _serve(page, view)
    page.goto(f"{BASE}/track")
    page.get_by_label("Order number").fill("9001")
    page.get_by_label("E-mail address or delivery postcode").fill("someone@example.com")
    page.get_by_role("button", name="Track order").click()
    page.wait_for_selector("#order:not([hidden]) .shipment")
    return page.locator(".shipment").first


def test_the_estimate_beside_the_carriers(page: Any) -> None:
    story = predicted(Story().moving(), 0.2, at=hours(4), day="2026-03-05")
    card = _look_up(page, customer_order(story.timeline()))
    ours = card.locator("dd.ours")
    assert ours.inner_text() == "Thu 5 Mar (likely between Wed 4 Mar and Fri 6 Mar)"
    assert "may-be-late" not in (ours.get_attribute("class") or "")
    assert "Our estimate" in card.inner_text()


def test_trending_late_is_said_with_the_estimate(page: Any) -> None:
    story = predicted(Story().moving(), 0.8, at=hours(4), day="2026-03-06")
    timeline = story.timeline()
    story.events += reconcile(timeline, detect(timeline, hours(5), THRESHOLDS, PREDICT), hours(5))
    card = _look_up(page, customer_order(story.timeline()))
    ours = card.locator("dd.ours.may-be-late")
    assert ours.inner_text().endswith("It may arrive later than promised.")
    assert page.locator("#banner").is_hidden()


def test_no_estimate_no_line(page: Any) -> None:
    card = _look_up(page, customer_order(Story().moving().timeline()))
    assert card.locator("dd.ours").count() == 0


def test_the_console_shows_the_chance_and_its_basis(page: Any) -> None:
    story = predicted(Story().moving(), 0.62, at=hours(4), day="2026-03-06")
    detail = {
        "timeline": timeline_to_dict(story.timeline()),
        "events": [event_to_dict(e) for e in story.events],
        "duplicates": {},
        "parked": {},
    }

    def handle(route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/console":
            route.fulfill(path=str(STATIC / "console" / "index.html"), content_type="text/html")
        elif path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            kind = "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file)[0]
            route.fulfill(path=str(file), content_type=kind or "application/octet-stream")
        elif path == "/v1/agent/exceptions":
            route.fulfill(json={"exceptions": []})
        elif path == f"/v1/agent/orders/{ORDER}":
            route.fulfill(body=encode(detail), content_type="application/json")
        else:
            route.fulfill(status=503, json={"reason": "not in this test"})

    page.route(f"{BASE}/**", handle)
    page.goto(f"{BASE}/console?token=agent#/order/{ORDER}")
    cell = page.locator("td.prediction").first
    cell.wait_for()
    text = cell.inner_text()
    assert "2026-03-06" in text
    assert "62 % late vs 2026-03-05" in text
    assert "carrier" in text
    assert "ups|in_transit" in text
    assert "420 scans of 90 parcels" in text
