"""The USPS payloads wismo reads, as USPS sends them (every field optional, extra fields kept).

* Tracking v3 ``GET /tracking/v3/tracking/{trackingNumber}?expand=DETAIL``: one object with
  ``trackingEvents[]`` (newest first) and the expected / predicted delivery dates; the v3r2
  batch endpoint answers a list of such objects.
* Subscriptions - Tracking v3 notifications: the same tracking object for one mail piece, pushed
  to the listener URL.

Event times: ``eventTimestamp`` is local to the scan, ``GMTTimestamp`` the same instant in UTC
and ``GMTOffset`` the local offset (``-7:00``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class UspsModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class TrackingEvent(UspsModel):
    eventType: str | None = None
    eventCode: str | None = None
    eventTimestamp: str | None = None
    GMTTimestamp: str | None = None
    GMTOffset: str | None = None
    eventCity: str | None = None
    eventState: str | None = None
    eventZIP: str | None = None
    eventZIPCode: str | None = None
    eventCountry: str | None = None
    actionCode: str | None = None
    reasonCode: str | None = None
    name: str | None = None  # who signed for a delivery
    firm: str | None = None  # the business that did


class TrackingDetails(UspsModel):
    trackingNumber: str | None = None
    expectedDeliveryDate: str | None = None
    expectedDeliveryTimeStamp: str | None = None
    predictedDeliveryDate: str | None = None
    guaranteedDeliveryTimeStamp: str | None = None
    status: str | None = None
    statusCategory: str | None = None
    statusSummary: str | None = None
    trackingEvents: list[Any] = []  # each validated on its own as a TrackingEvent


class ErrorDetail(UspsModel):
    code: str | None = None
    message: str | None = None


class ErrorMessage(UspsModel):
    apiVersion: str | None = None
    error: ErrorDetail
