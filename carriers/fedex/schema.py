"""The FedEx payloads wismo reads, as FedEx sends them (every field optional, extra fields kept).

The Track API (``POST /track/v1/trackingnumbers``) and the tracking webhooks push the same shape:
``output.completeTrackResults[].trackResults[]`` with ``scanEvents[]`` (newest first, ISO
timestamps with the scan's UTC offset), ``dateAndTimes[]``, ``estimatedDeliveryTimeWindow`` and,
for a number FedEx does not know, ``error``. A webhook delivery adds ``outputMetaData``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class FedexModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Address(FedexModel):
    city: str | None = None
    stateOrProvinceCode: str | None = None
    postalCode: str | None = None
    countryCode: str | None = None


class ScanEvent(FedexModel):
    date: str | None = None
    eventType: str | None = None
    eventDescription: str | None = None
    exceptionCode: str | None = None
    exceptionDescription: str | None = None
    scanLocation: Address | None = None
    locationId: str | None = None
    locationType: str | None = None
    derivedStatusCode: str | None = None
    derivedStatus: str | None = None


class DateAndTime(FedexModel):
    type: str | None = None  # ESTIMATED_DELIVERY, ACTUAL_DELIVERY, ACTUAL_PICKUP, SHIP…
    dateTime: str | None = None


class Window(FedexModel):
    begins: str | None = None
    ends: str | None = None


class DeliveryWindow(FedexModel):
    description: str | None = None
    type: str | None = None
    window: Window | None = None


class TrackingNumberInfo(FedexModel):
    trackingNumber: str | None = None
    trackingNumberUniqueId: str | None = None
    carrierCode: str | None = None


class Error(FedexModel):
    code: str | None = None
    message: str | None = None


class DeliveryDetails(FedexModel):
    locationDescription: str | None = None  # where it was left: "Front Porch", "Mailroom"…
    locationType: str | None = None
    receivedByName: str | None = None  # who signed for a delivered parcel


class TrackResult(FedexModel):
    trackingNumberInfo: TrackingNumberInfo | None = None
    scanEvents: list[Any] = []  # each validated on its own as a ScanEvent
    dateAndTimes: list[DateAndTime] = []
    estimatedDeliveryTimeWindow: DeliveryWindow | None = None
    deliveryDetails: DeliveryDetails | None = None
    error: Error | None = None


class CompleteTrackResult(FedexModel):
    trackingNumber: str | None = None
    trackResults: list[TrackResult] = []


class Output(FedexModel):
    completeTrackResults: list[CompleteTrackResult] = []


class TrackResponse(FedexModel):
    transactionId: str | None = None
    output: Output | None = None
    errors: list[Error] = []
