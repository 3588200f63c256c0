"""The customer documents link only to http(s) pages, whatever a stored timeline holds; they are
worded in the reader's language (no English msgid left in a translated view, Babel days)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import projections.customer_order as customer_order_module
from projections.customer_order import customer_order, public_parcel
from projections.timeline import fold
from projections.timeline_model import PredictionView
from tests.api.conftest import example_order
from tests.projections.synthetic import histories
from wismo.i18n import translations
from wismo.vocab import TrackingStatus


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("https://carrier.example/track?n=1", "https://carrier.example/track?n=1"),
        ("http://carrier.example/t", "http://carrier.example/t"),
        ("javascript:alert(document.cookie)", None),
        ("JavaScript://%0aalert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("//carrier.example/no-scheme", None),
    ],
)
def test_only_web_links_reach_the_customer(stored: str, shown: str | None) -> None:
    # A link stored before events were checked at the edge must not reach the page either.
    timeline = fold(example_order())
    parcel = timeline.shipments[0]
    parcel.tracking_url = stored
    assert parcel.tracking_number is not None
    document = public_parcel(timeline, parcel.tracking_number)
    assert document is not None
    assert document["tracking_url"] == shown
    shipments = customer_order(timeline)["shipments"]
    assert [
        s["tracking_url"] for s in shipments if s["tracking_number"] == parcel.tracking_number
    ] == [shown]


# languages ----------------------------------------------------------------------------------

LANGS = ("de", "fr", "es", "nl")


def _msgids() -> set[str]:
    from babel.messages.extract import extract_from_file

    path = Path(customer_order_module.__file__)
    found = extract_from_file("python", str(path))
    return {message for _, message, _, _ in found if isinstance(message, str)}


def _texts(document: Any) -> Iterator[str]:
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from _texts(value)
    elif isinstance(document, list):
        for value in document:
            yield from _texts(value)


def _views(lang: str) -> Iterator[dict[str, Any]]:
    yield customer_order(fold(example_order()), lang=lang)
    for events in histories(40, seed=11):
        yield customer_order(fold(events), lang=lang)


@pytest.mark.parametrize("lang", LANGS)
def test_no_english_text_is_left_in_a_translated_view(lang: str) -> None:
    english = {m for m in _msgids() if "%(" not in m}
    catalog = translations("page", lang)
    shown: set[str] = set()
    for view in _views(lang):
        assert view["lang"] == lang
        shown |= set(_texts(view))
    left = {text for text in shown & english if catalog.gettext(text) != text}
    assert not left
    translated = {catalog.gettext(text) for text in english} & shown
    assert len(translated) >= 10  # the views did show worded statuses, steps and milestones


def test_english_stays_the_default() -> None:
    timeline = fold(example_order())
    assert customer_order(timeline) == customer_order(timeline, lang="en")
    assert customer_order(timeline)["status_text"] == "Delivered"


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        ("en", "Tue 3 Mar"),
        ("de", "Di. 3. März"),
        ("fr", "mar. 3 mars"),
        ("nl", "di 3 mrt"),
    ],
)
def test_days_are_worded_in_the_readers_language(lang: str, shown: str) -> None:
    assert customer_order_module._day(date(2026, 3, 3), lang) == shown


def test_estimates_are_worded_in_the_readers_language() -> None:
    timeline = fold(example_order())
    parcel = timeline.shipments[0]
    parcel.delivered_at = None
    parcel.status = TrackingStatus.IN_TRANSIT
    parcel.prediction = PredictionView(
        predicted_delivery=date(2026, 3, 4),
        window_start=datetime(2026, 3, 3, tzinfo=UTC),
        window_end=datetime(2026, 3, 6, tzinfo=UTC),
        p_late=None,
        promise=None,
        level="lane",
        key="k",
        samples=50,
        parcels=50,
        model_version="m1",
        as_of=datetime(2026, 3, 10, tzinfo=UTC),
        computed_at=datetime(2026, 3, 10, tzinfo=UTC),
        event_id="e1",
    )
    estimate = customer_order_module.wismo_estimate(parcel, may_be_late=True, lang="de")
    assert estimate is not None
    assert estimate["text"] == (
        "Unsere Schätzung: Mi. 4. März (wahrscheinlich zwischen Di. 3. März und Do. 5. März)."
        " Es kann später als zugesagt ankommen."
    )
