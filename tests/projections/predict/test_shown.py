"""Where an estimate is shown: the status page's wording, and the opt-in "may be late" message."""

from __future__ import annotations

from typing import Any

from projections.customer_order import banner, customer_order, public_parcel
from projections.exception_flow import reconcile
from projections.exceptions import detect
from projections.notify.branding import notify_settings_of
from projections.notify.milestones import journey
from projections.notify.model import Milestone
from tests.projections.predict.test_live import PREDICT, predicted
from tests.projections.test_exceptions import THRESHOLDS, TRACKING, Story, hours
from wismo.settings import BrandSettings, NotifySettings, Settings


def _estimate(story: Story) -> Any:
    return customer_order(story.timeline())["shipments"][0]["wismo_estimate"]


def test_the_estimate_in_cautious_words() -> None:
    story = predicted(Story().moving(), 0.2, at=hours(4), day="2026-03-05")
    shown = _estimate(story)
    # the window runs from Wed 4 Mar 08:00 to Fri 6 Mar 18:00 (test_live.predicted)
    assert shown["text"] == "Our estimate: Thu 5 Mar (likely between Wed 4 Mar and Fri 6 Mar)"
    assert shown["may_be_late"] is False
    assert (shown["earliest"].isoformat(), shown["latest"].isoformat()) == (
        "2026-03-04",
        "2026-03-06",
    )
    # no probability and no basis reach the customer
    assert set(shown) == {"date", "earliest", "latest", "may_be_late", "text"}
    public = public_parcel(story.timeline(), TRACKING)
    assert public is not None
    assert public["wismo_estimate"]["text"] == shown["text"]


def test_no_estimate_shown_when_there_is_none_worth_showing() -> None:
    assert _estimate(Story().moving()) is None
    # a scan newer than the estimate: wait for the next one
    newer = predicted(Story().moving(), 0.2, at=hours(4)).scan(hours(5), "in_transit")
    assert _estimate(newer) is None
    delivered = predicted(Story().moving(), 0.2, at=hours(4)).scan(hours(20), "delivered")
    assert _estimate(delivered) is None


def _trending(story: Story) -> Story:
    timeline = story.timeline()
    story.events += reconcile(timeline, detect(timeline, hours(5), THRESHOLDS, PREDICT), hours(5))
    return story


def test_trending_late_is_said_beside_the_estimate_not_in_the_banner() -> None:
    story = _trending(predicted(Story().moving(), 0.8, at=hours(4), day="2026-03-06"))
    shown = _estimate(story)
    assert shown["may_be_late"] is True
    assert shown["text"].endswith("It may arrive later than promised.")
    assert banner(story.timeline()) is None


def test_the_customer_hears_of_it_only_when_the_setting_says_so() -> None:
    story = _trending(predicted(Story().moving(), 0.8, at=hours(4)))
    timeline = story.timeline()
    assert [f for f in journey(timeline) if f.milestone is Milestone.DELAYED] == []
    (fact,) = [
        f for f in journey(timeline, warn_trending_late=True) if f.milestone is Milestone.DELAYED
    ]
    assert "may arrive later than promised" in fact.context["reason"]


def test_each_brand_may_choose_for_its_own_customers() -> None:
    """``notify.warn_trending_late`` is the default; a brand's own ``warn_trending_late``
    overrides it for its orders, either way (docs/brands.md)."""
    brands = {
        "north": BrandSettings(name="North", warn_trending_late=True),
        "south": BrandSettings(name="South", warn_trending_late=False),
        "plain": BrandSettings(name="Plain"),
    }
    timeline = _trending(predicted(Story().moving(), 0.8, at=hours(4))).timeline()

    def warned(settings: Settings, brand: str | None) -> bool:
        chosen = notify_settings_of(settings, brand).warn_trending_late
        return any(
            f.milestone is Milestone.DELAYED for f in journey(timeline, warn_trending_late=chosen)
        )

    off = Settings(brands=brands)
    on = off.model_copy(update={"notify": NotifySettings(warn_trending_late=True)})
    assert [warned(off, b) for b in ("north", "south", "plain", None, "unknown")] == [
        True, False, False, False, False,
    ]  # fmt: skip
    assert [warned(on, b) for b in ("north", "south", "plain", None, "unknown")] == [
        True, False, True, True, True,
    ]  # fmt: skip
