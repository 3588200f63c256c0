"""AfterShip webhook bodies, Tracking API answers and tracking objects, as AfterShip sends them.

Only the fields wismo reads are declared; everything else is ignored, so new AfterShip fields
never break parsing. Timestamps stay strings here: :mod:`carriers.aftership.parse` decides how to
read them. Checkpoints are kept raw so one bad checkpoint does not reject its siblings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Checkpoint(Lenient):
    checkpoint_time: str | None = None
    created_at: str | None = None
    tag: str | None = None
    subtag: str | None = None
    subtag_message: str | None = None
    message: str | None = None
    slug: str | None = None
    location: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country_region: str | None = None  # ISO 3166-1 alpha-3 (2024 API versions)
    country_iso3: str | None = None  # the same, in older API versions
    country_region_name: str | None = None
    country_name: str | None = None


class EstimatedDeliveryDate(Lenient):
    """``aftership_estimated_delivery_date`` / ``courier_estimated_delivery_date``."""

    estimated_delivery_date: str | None = None
    estimated_delivery_date_min: str | None = None
    estimated_delivery_date_max: str | None = None


class LatestEstimatedDelivery(Lenient):
    """``latest_estimated_delivery``: the EDD AfterShip currently shows, and where it came from."""

    type: str | None = None  # "specific" or "range"
    source: str | None = None  # "Carrier EDD", "AfterShip EDD", "Custom EDD", "Order EDD"
    datetime: str | None = None
    datetime_min: str | None = None
    datetime_max: str | None = None


class Tracking(Lenient):
    id: str | None = None
    tracking_number: str | None = None
    slug: str | None = None
    tag: str | None = None
    subtag: str | None = None
    order_id: str | None = None
    order_number: str | None = None
    updated_at: str | None = None
    expected_delivery: str | None = None
    courier_estimated_delivery_date: EstimatedDeliveryDate | None = None
    aftership_estimated_delivery_date: EstimatedDeliveryDate | None = None
    latest_estimated_delivery: LatestEstimatedDelivery | None = None
    checkpoints: list[Any] | None = None
    signed_by: str | None = None  # who signed for the delivery


class Webhook(Lenient):
    """One webhook delivery: ``tracking_update``, ``edd_revise``, ``tracking_pending_time``…"""

    event: str | None = None
    event_id: str | None = None
    ts: int | None = None
    is_tracking_first_tag: bool | None = None
    msg: Tracking | None = None


class Meta(Lenient):
    """``meta`` of a Tracking API answer: ``code`` 200/201 on success, else an error code
    (``4004`` not found…) with its ``type`` and ``message``."""

    code: str | None = None
    type: str | None = None
    message: str | None = None


class ApiResponse(Lenient):
    """A Tracking API answer, ``{"meta": {...}, "data": ...}``; ``data`` is read by shape (one
    tracking, ``tracking`` or ``trackings``) and each tracking validated on its own."""

    meta: Meta | None = None
    data: dict[str, Any] | None = None
