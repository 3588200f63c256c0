"""The customer documents link only to http(s) pages, whatever a stored timeline holds."""

from __future__ import annotations

import pytest

from projections.customer_order import customer_order, public_parcel
from projections.timeline import fold
from tests.api.conftest import example_order


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
    document = public_parcel(timeline, parcel.tracking_number)
    assert document is not None
    assert document["tracking_url"] == shown
    shipments = customer_order(timeline)["shipments"]
    assert [
        s["tracking_url"] for s in shipments if s["tracking_number"] == parcel.tracking_number
    ] == [shown]
