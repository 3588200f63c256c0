"""EasyPost ``Event`` objects (webhooks), ``Tracker`` objects (webhook result, API reads) and
the trackers list (``GET /v2/trackers``).

Only the fields wismo reads are declared; unknown fields are ignored. Tracking details stay raw
on the tracker so one bad detail does not reject its siblings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class TrackingLocation(Lenient):
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip: str | None = None


class TrackingDetail(Lenient):
    message: str | None = None
    description: str | None = None
    status: str | None = None
    status_detail: str | None = None
    datetime: str | None = None
    source: str | None = None
    carrier_code: str | None = None
    tracking_location: TrackingLocation | None = None


class CarrierDetail(Lenient):
    est_delivery_date_local: str | None = None
    est_delivery_time_local: str | None = None


class Tracker(Lenient):
    id: str | None = None
    object: str | None = None
    tracking_code: str | None = None
    carrier: str | None = None
    status: str | None = None
    status_detail: str | None = None
    est_delivery_date: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    shipment_id: str | None = None
    tracking_details: list[Any] | None = None
    carrier_detail: CarrierDetail | None = None
    signed_by: str | None = None  # who signed for the delivery


class Event(Lenient):
    """One webhook delivery: ``tracker.created``, ``tracker.updated``, ``batch.created``…"""

    id: str | None = None
    object: str | None = None
    description: str | None = None
    mode: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    previous_attributes: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


class TrackerList(Lenient):
    """``GET /v2/trackers``: one page of trackers, each validated on its own."""

    trackers: list[Any]
    has_more: bool | None = None


class ErrorDetail(Lenient):
    code: str | None = None
    message: str | None = None


class ApiError(Lenient):
    """An API error answer, ``{"error": {"code": "TRACKER.NOT_FOUND", "message": …}}``."""

    error: ErrorDetail
